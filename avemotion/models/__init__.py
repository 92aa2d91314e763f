"""The five models of the hybrid network (paper 2.1-2.4) and their training entry points."""
from .pipelines import ModelOutputs, train_audio_lstm, train_inception_lstm, train_vgg_lstm
from .svm import train_audio_svm

__all__ = ["ModelOutputs", "train_audio_lstm", "train_audio_svm", "train_inception_lstm", "train_vgg_lstm"]
