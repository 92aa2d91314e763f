"""Rule `faces`: one clip's face stack for one track (avemotion.video.extract_face_track)."""
import logging

from avemotion.video import extract_face_track

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
extract_face_track(snakemake.input.clip, snakemake.input.timeline, snakemake.output.stack,
                   snakemake.params.faces, snakemake.wildcards.track)
