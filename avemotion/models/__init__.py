"""The five models of the hybrid network (paper 2.1-2.4) and their training entry points."""
from .pipelines import (
    ModelOutputs,
    TrainedModel,
    load_trained_model,
    predict_clip_probabilities,
    train_audio_lstm,
    train_inception_lstm,
    train_vgg_lstm,
)
from .svm import train_audio_svm

__all__ = ["ModelOutputs", "TrainedModel", "load_trained_model", "predict_clip_probabilities", "train_audio_lstm",
           "train_audio_svm", "train_inception_lstm", "train_vgg_lstm"]
