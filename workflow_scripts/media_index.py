"""Rule `media_index`: results/media/index.tsv (avemotion.media.write_media_index)."""
from avemotion.logs import log_to_file
from avemotion.media import write_media_index

log_to_file(snakemake.log[0])
write_media_index(snakemake.input.manifest, snakemake.params.timelines, snakemake.params.wavs,
                  snakemake.output.index)
