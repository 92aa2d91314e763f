"""Snakemake script of rule audio_maps: the 34x34 audio maps of one clip (paper 2.4)."""
import logging

from avemotion.audio import MapSettings, write_maps_artifact

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.captureWarnings(True)
write_maps_artifact(snakemake.input.shortterm, snakemake.output.h5, snakemake.wildcards.clip,
                    MapSettings.from_config(snakemake.params.maps))
