"""Snakemake script of rule audio_maps: the 34x34 audio maps of one clip (paper 2.4)."""
from avemotion.audio import MapSettings, write_maps_artifact
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
write_maps_artifact(snakemake.input.shortterm, snakemake.output.h5, snakemake.wildcards.clip,
                    MapSettings.from_config(snakemake.params.maps))
