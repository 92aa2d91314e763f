"""Snakemake script of rule `evaluate_model`: one trained model on an evaluation dataset
(avemotion.models.evaluate.predict_dataset)."""

import torch

from avemotion.models.evaluate import predict_dataset
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
predict_dataset(
    snakemake.input.checkpoint,
    snakemake.input.manifest,
    snakemake.params.clips,
    snakemake.output.predictions,
    device=snakemake.params.device,
)
