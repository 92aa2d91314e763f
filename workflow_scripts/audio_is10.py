"""Snakemake script of rule audio_is10: openSMILE IS10 functionals of one clip (paper 2.2)."""
from avemotion.audio import AudioChecks, write_is10_artifact
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
write_is10_artifact(snakemake.input.wav, snakemake.output.h5, snakemake.wildcards.clip,
                    AudioChecks.from_config(snakemake.params.checks))
