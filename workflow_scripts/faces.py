"""Rule `faces`: one shard's face stacks for one track (avemotion.faces.extract_face_shard)."""
from avemotion.faces import extract_face_shard
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
extract_face_shard(snakemake.params.videos, snakemake.params.media, snakemake.output.stacks,
                   snakemake.params.faces, snakemake.wildcards.track, snakemake.output.table,
                   queue_size=snakemake.config["faces"]["queue_size"],  # a run setting: read, not a param
                   crop_clips=snakemake.params.crop_clips)
