"""Rule `faces_index`: results/faces/{track}/index.tsv (avemotion.faces.write_face_index)."""
from avemotion.logs import log_to_file
from avemotion.artifacts import read_manifest
from avemotion.faces import write_face_index

log_to_file(snakemake.log[0])
write_face_index(read_manifest(snakemake.input.manifest), snakemake.params.stacks, snakemake.output.index)
