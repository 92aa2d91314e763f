"""Snakemake script of rule `fusion`: grid-searched decision fusion (avemotion.fusion.run_fusion)."""

from avemotion.logs import log_to_file
from avemotion.fusion import run_fusion

log_to_file(snakemake.log[0])

settings = snakemake.params.fusion
models = settings["models"]
refit_paths = None
if settings["refit"]:
    refit_paths = dict(zip(models, snakemake.input.refit))
run_fusion(
    prediction_paths={model: snakemake.input[model] for model in models},
    weights_path=snakemake.output.weights,
    fused_predictions_path=snakemake.output.predictions,
    metrics_path=snakemake.output.metrics,
    grid_step=settings["grid_step"],
    refit_prediction_paths=refit_paths,
)
