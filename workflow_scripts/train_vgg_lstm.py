"""Thin wrapper: train vgg_lstm (avemotion.models.train_vgg_lstm); logging goes to the rule's log."""

from avemotion.config import with_run_settings
from avemotion.logs import log_to_file
from avemotion.models import ModelOutputs, train_vgg_lstm

log_to_file(snakemake.log[0])
output = snakemake.output
train_vgg_lstm(
    snakemake.input.manifest,
    snakemake.params.faces,
    ModelOutputs.of(output.checkpoint, output.train_log, output.curve, output.predictions, output.metrics),
    snakemake.params.model,
    # the rule's result settings, and the run settings (loader workers, resume interval) read here
    with_run_settings(snakemake.params.training, snakemake.config, "models.training"),
    name=snakemake.params.name,
    train_splits=tuple(snakemake.params.train_splits),
    threads=snakemake.threads,
)
