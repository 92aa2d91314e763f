"""Snakemake script of rule audio_index: results/audio/index.tsv over every manifest clip."""
import logging

from avemotion.audio import write_audio_index

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
write_audio_index(snakemake.input.manifest,
                  {"is10": snakemake.input.is10, "shortterm": snakemake.input.shortterm,
                   "maps": snakemake.input.maps},
                  snakemake.output.index)
