"""Rule `faces`: one clip's face stack for one track (avemotion.faces.extract_face_track)."""
from avemotion.logs import log_to_file
from avemotion.faces import extract_face_track

log_to_file(snakemake.log[0])
extract_face_track(snakemake.input.clip, snakemake.input.timeline, snakemake.output.stack,
                   snakemake.params.faces, snakemake.wildcards.track)
