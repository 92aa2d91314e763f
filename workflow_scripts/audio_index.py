"""Snakemake script of rule audio_index: results/audio/index.tsv over every manifest clip."""
from avemotion.audio import write_audio_index
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
write_audio_index(snakemake.input.manifest,
                  {"is10": snakemake.params.is10, "shortterm": snakemake.params.shortterm,
                   "maps": snakemake.params.maps},
                  snakemake.output.index)
