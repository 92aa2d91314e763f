"""Snakemake script of rule `evaluate_fusion`: the fused network on an evaluation dataset
(avemotion.evaluation.fuse_dataset)."""

from avemotion.evaluation import fuse_dataset
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
fuse_dataset(
    {model: snakemake.input[model] for model in snakemake.params.models},
    snakemake.input.weights,
    snakemake.output.predictions,
)
