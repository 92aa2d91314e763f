"""Rule `faces_qc`: montage per split and detection table (avemotion.faces.write_face_qc)."""
from avemotion.artifacts import read_manifest
from avemotion.constants import SPLITS
from avemotion.faces import write_face_qc
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
write_face_qc(
    read_manifest(snakemake.input.manifest),
    snakemake.params.stacks,
    {split: snakemake.output[f"montage_{split}"] for split in SPLITS},
    snakemake.output.detection,
)
