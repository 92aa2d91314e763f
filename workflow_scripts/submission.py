"""Snakemake script of rule `submission`: the EmotiW zip of the fused test predictions
(avemotion.submission.build_submission)."""

from avemotion.logs import log_to_file
from avemotion.submission import build_submission

log_to_file(snakemake.log[0])
build_submission(
    fused_predictions_path=snakemake.input.predictions,
    manifest_path=snakemake.input.manifest,
    quarantine_path=snakemake.input.quarantine,
    zip_path=snakemake.output.zip,
    table_path=snakemake.output.table,
    datasets=snakemake.params.datasets,
)
