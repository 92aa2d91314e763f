"""The five models of the hybrid network (paper 2.1-2.4) and their training entry points."""
from .outputs import ModelOutputs
from .pipelines import train_audio_lstm, train_audio_svm, train_inception_lstm, train_vgg_lstm
from .trained import TrainedModel, load_trained_model, predict_clip_probabilities, trained_model_from_weights

__all__ = ["ModelOutputs", "TrainedModel", "load_trained_model", "predict_clip_probabilities", "train_audio_lstm",
           "train_audio_svm", "train_inception_lstm", "train_vgg_lstm", "trained_model_from_weights"]
