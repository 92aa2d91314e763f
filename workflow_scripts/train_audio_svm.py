"""Thin wrapper: train the audio SVM (avemotion.models.train_audio_svm); logging goes to the rule's log."""

from avemotion.logs import log_to_file
from avemotion.models import ModelOutputs, train_audio_svm

log_to_file(snakemake.log[0])
output = snakemake.output
train_audio_svm(
    snakemake.input.manifest,
    snakemake.params.features,
    ModelOutputs.of(output.model, output.train_log, output.curve, output.predictions, output.metrics),
    snakemake.params.model,
    snakemake.params.training,
    train_splits=tuple(snakemake.params.train_splits),
)
