"""Rule `faces_index`: results/faces/{track}/index.tsv (avemotion.video.write_face_index)."""
import logging

from avemotion.artifacts import read_manifest
from avemotion.video import write_face_index

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
write_face_index(read_manifest(snakemake.input.manifest), snakemake.input.stacks, snakemake.output.index)
