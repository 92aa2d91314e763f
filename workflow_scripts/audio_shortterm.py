"""Snakemake script of rule audio_shortterm: the 34 x n short-term feature sequence of one clip (paper 2.3)."""
from avemotion.audio import AudioChecks, ShortTermSettings, write_shortterm_artifact
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
write_shortterm_artifact(snakemake.input.wav, snakemake.output.h5, snakemake.wildcards.clip,
                         AudioChecks.from_config(snakemake.params.checks),
                         ShortTermSettings.from_config(snakemake.params.shortterm))
