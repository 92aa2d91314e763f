"""Snakemake script of rule `fusion`: grid-searched decision fusion (avemotion.fusion.run_fusion)."""
import logging

from avemotion.fusion import run_fusion

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")

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
