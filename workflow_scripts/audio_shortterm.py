"""Snakemake script of rule audio_shortterm: the 34 x n short-term feature sequence of one clip (paper 2.3)."""
import logging

from avemotion.audio import AudioChecks, ShortTermSettings, write_shortterm_artifact

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.captureWarnings(True)
write_shortterm_artifact(snakemake.input.wav, snakemake.output.h5, snakemake.wildcards.clip,
                         AudioChecks.from_config(snakemake.params.checks),
                         ShortTermSettings.from_config(snakemake.params.shortterm))
