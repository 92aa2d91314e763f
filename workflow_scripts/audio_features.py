"""Snakemake script of rule audio_features: one clip's IS10 functionals (paper 2.2), short-term
sequence (2.3) and 34x34 audio maps (2.4)."""
from avemotion.audio import write_audio_artifacts
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
# params: the checks, shortterm and maps blocks of the config's audio settings
write_audio_artifacts(snakemake.input.wav, snakemake.output, snakemake.wildcards.clip, snakemake.params)
