"""Snakemake script of rule `evaluate_fusion`: the fused network on an evaluation dataset
(avemotion.fusion.fuse_with_chosen_weights)."""

from avemotion.fusion import fuse_with_chosen_weights
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
fuse_with_chosen_weights(
    {model: snakemake.input[model] for model in snakemake.params.models},
    snakemake.input.weights,
    snakemake.output.predictions,
)
