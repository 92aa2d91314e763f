"""Rule `faces_qc`: montage per split and detection table (avemotion.video.write_face_qc)."""
import logging

from avemotion.artifacts import read_manifest
from avemotion.video import write_face_qc

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
write_face_qc(
    read_manifest(snakemake.input.manifest),
    {"a": snakemake.input.stacks_a, "b": snakemake.input.stacks_b},
    {split: snakemake.output[f"montage_{split}"] for split in ("train", "val", "test")},
    snakemake.output.detection,
)
