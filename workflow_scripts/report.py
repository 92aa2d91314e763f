"""Snakemake script of rule `report`: tables, heatmaps and clip statuses (avemotion.report.build_report)."""

from avemotion.logs import log_to_file
from avemotion.report import build_report

log_to_file(snakemake.log[0])

models = snakemake.params.models
stage_indices = {
    name[len("index_"):]: path for name, path in snakemake.input.items() if name.startswith("index_")
}
build_report(
    prediction_paths=dict(zip(models, snakemake.input.predictions)),
    weights_path=snakemake.input.weights,
    manifest_path=snakemake.input.manifest,
    quarantine_path=snakemake.input.quarantine,
    stage_index_paths=stage_indices,
    summary_md_path=snakemake.output.summary,
    summary_tsv_path=snakemake.output.table,
    clips_tsv_path=snakemake.output.clips,
    confusion_png_paths=dict(zip(models, snakemake.output.confusions)),
    bootstrap_samples=snakemake.params.report["bootstrap_samples"],
    seed=snakemake.params.report["seed"],
    vgg_lstm_init=snakemake.params.vgg_lstm_init,
    paper_deviations=snakemake.params.paper_deviations,
    submission_table_path=snakemake.input.get("submission"),
)
