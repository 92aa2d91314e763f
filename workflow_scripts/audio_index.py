"""Snakemake script of rule audio_index: results/audio/index.tsv over every manifest clip."""
from avemotion.audio import write_audio_index
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
write_audio_index(snakemake.input.manifest,
                  {"is10": snakemake.input.is10, "shortterm": snakemake.input.shortterm,
                   "maps": snakemake.input.maps},
                  snakemake.output.index)
