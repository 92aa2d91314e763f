"""Rule `faces_qc`: montage per split and detection table (avemotion.faces.write_face_qc)."""
from avemotion.logs import log_to_file
from avemotion.artifacts import read_manifest
from avemotion.faces import write_face_qc

log_to_file(snakemake.log[0])
write_face_qc(
    read_manifest(snakemake.input.manifest),
    {"a": snakemake.params.stacks_a, "b": snakemake.params.stacks_b},
    {split: snakemake.output[f"montage_{split}"] for split in ("train", "val", "test")},
    snakemake.output.detection,
)
