"""Rule `media`: one shard's timelines and wavs (avemotion.media.write_media_shard)."""
from avemotion.logs import log_to_file
from avemotion.media import write_media_shard

log_to_file(snakemake.log[0])
write_media_shard(snakemake.params.clips, snakemake.output.media, snakemake.params.media, snakemake.output.table)
