"""Snakemake script of rule audio_is10: openSMILE IS10 functionals of one clip (paper 2.2)."""
import logging

from avemotion.audio import AudioChecks, write_is10_artifact

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.captureWarnings(True)
write_is10_artifact(snakemake.input.wav, snakemake.output.h5, snakemake.wildcards.clip,
                    AudioChecks.from_config(snakemake.params.checks))
