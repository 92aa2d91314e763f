"""Trained models: the model file training writes (checkpoint.pt: tensors and plain values only, so
that it loads with `torch.load(weights_only=True)`, which runs no code from the file), loading it
back, and the class probabilities of one clip.

Training writes its val/test predictions with `predict_clip_probabilities`, the function
`avemotion predict` runs on new clips, so that both give the same numbers by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..padding import pad_sequence_to_min_length
from .data import clip_face_windows, read_audio_array
from .heads import AudioLSTM
from .inception import BNInception, InceptionLSTM
from .sampling import standardize_map, window_starts
from .svm import class_probabilities, svm_from_state, svm_state
from .training import autocast, save_checkpoint
from .vgg import VGGLSTM, vgg16_from_config

VGG_LSTM, AUDIO_LSTM, INCEPTION_LSTM, AUDIO_SVM = "vgg_lstm", "audio_lstm", "inception_lstm", "audio_svm"
# Which per-clip artifact each architecture reads (docs/artifacts.md).
ARCHITECTURE_INPUT: dict[str, str] = {VGG_LSTM: "faces", AUDIO_LSTM: "audio shortterm",
                                      INCEPTION_LSTM: "audio maps", AUDIO_SVM: "audio is10"}
# The checkpoint keys under which an architecture keeps its training clips' mean and std.
STATISTICS_KEYS: dict[str, tuple[str, str]] = {AUDIO_LSTM: ("feature_mean", "feature_std"),
                                               INCEPTION_LSTM: ("map_mean", "map_std")}


@dataclass
class TrainedModel:
    """A trained model ready to predict one clip: its network (or the SVM pipeline), the config it
    was trained with and the standardisation statistics of its training clips."""

    name: str
    architecture: str  # one of ARCHITECTURE_INPUT
    network: object  # nn.Module in eval mode, or the fitted sklearn Pipeline (audio_svm)
    config: dict
    device: torch.device = torch.device("cpu")
    statistics: dict = field(default_factory=dict)  # {"mean", "std"} for the architectures of STATISTICS_KEYS


def save_trained_model(model: TrainedModel, train_splits: Sequence[str], path: Path) -> None:
    """Write `path` (checkpoint.pt): the network's state_dict (the SVM pipeline's fitted arrays), the
    config it was trained with and the standardisation statistics, as tensors and plain values."""
    if model.architecture == AUDIO_SVM:
        weights = {"svm_state": svm_state(model.network)}
    else:
        weights = {"state_dict": model.network.state_dict(),
                   **{key: torch.from_numpy(np.asarray(model.statistics[stat]))
                      for key, stat in zip(STATISTICS_KEYS.get(model.architecture, ()), ("mean", "std"))}}
    save_checkpoint(path, {"model": model.name, "architecture": model.architecture, "train_splits": list(train_splits),
                           "config": model.config, **weights})


def load_trained_model(checkpoint_path: str | Path, device: str | torch.device = "cpu") -> TrainedModel:
    """Load `results/models/{model}/checkpoint.pt` as training wrote it, ready for
    `predict_clip_probabilities` (weights_only: a file that holds anything but tensors and plain
    values is refused, not run)."""
    checkpoint_path = Path(checkpoint_path)
    if not checkpoint_path.is_file():
        raise FileNotFoundError(f"{checkpoint_path}: no trained model (run the pipeline first)")
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    return trained_model_from_weights(checkpoint, device)


def trained_model_from_weights(saved: Mapping, device: str | torch.device = "cpu") -> TrainedModel:
    """A TrainedModel from what `save_trained_model` stores (a checkpoint's dict, or a bundle's members)."""
    architecture, name, config = str(saved["architecture"]), str(saved["model"]), dict(saved["config"])
    if architecture == AUDIO_SVM:
        return TrainedModel(name, AUDIO_SVM, svm_from_state(saved["svm_state"]), config)
    device = torch.device(device)
    statistics = {stat: saved[key].numpy() for stat, key in zip(("mean", "std"), STATISTICS_KEYS.get(architecture, ()))}
    network = build_network(architecture, config, statistics)
    network.load_state_dict(saved["state_dict"])
    network.to(device).eval()
    return TrainedModel(name, architecture, network, config, device, statistics)


def build_network(architecture: str, config: Mapping, statistics: Mapping) -> nn.Module:
    """The final training stage's network for `architecture`, freshly initialised (paper 2.1, 2.3, 2.4)."""
    if architecture == VGG_LSTM:
        return VGGLSTM(vgg16_from_config(config), int(config["lstm_hidden"]))
    if architecture == AUDIO_LSTM:
        return AudioLSTM(len(statistics["mean"]), int(config["hidden"]))
    if architecture == INCEPTION_LSTM:
        return InceptionLSTM(BNInception(float(config["width_multiplier"])), int(config["lstm_hidden"]))
    raise ValueError(f"unknown architecture {architecture!r}")


def predict_clip_probabilities(model: TrainedModel, clip_file: str | Path) -> np.ndarray:
    """Class probabilities [7] of one clip from its per-clip artifact (faces, short-term sequence,
    maps or IS10 file, per ARCHITECTURE_INPUT). Deep models average the softmax over windows that
    cover the clip (docs/models.md); the artifact must have status ok."""
    predict = PREDICTORS.get(model.architecture)
    if predict is None:
        raise ValueError(f"unknown architecture {model.architecture!r}")
    with torch.no_grad():
        return predict(model, Path(clip_file))


def predict_vgg_lstm(model: TrainedModel, clip_file: Path) -> np.ndarray:
    windows = clip_face_windows(clip_file, model.config)
    return softmax_mean(model, torch.from_numpy(windows).permute(0, 1, 4, 2, 3))


def predict_audio_lstm(model: TrainedModel, clip_file: Path) -> np.ndarray:
    sequence = pad_sequence_to_min_length(read_audio_array(clip_file), int(model.config["min_sequence_length"]))
    standardized = (sequence - model.statistics["mean"]) / model.statistics["std"]
    return softmax_mean(model, torch.from_numpy(standardized).unsqueeze(0))


def predict_inception_lstm(model: TrainedModel, clip_file: Path) -> np.ndarray:
    length = int(model.config["sequence_length"])
    maps = pad_sequence_to_min_length(read_audio_array(clip_file), length)
    scale = (model.statistics["mean"], model.statistics["std"])
    windows = np.stack([standardize_map(maps[s:s + length], scale) for s in window_starts(len(maps), length)])
    return softmax_mean(model, torch.from_numpy(windows))


def predict_audio_svm(model: TrainedModel, clip_file: Path) -> np.ndarray:
    return class_probabilities(model.network, read_audio_array(clip_file)[None])[0]


PREDICTORS: dict[str, Callable[[TrainedModel, Path], np.ndarray]] = {
    VGG_LSTM: predict_vgg_lstm, AUDIO_LSTM: predict_audio_lstm, INCEPTION_LSTM: predict_inception_lstm,
    AUDIO_SVM: predict_audio_svm}


def softmax_mean(model: TrainedModel, windows: torch.Tensor) -> np.ndarray:
    """The network's class probabilities averaged over a batch of windows of one clip."""
    with autocast(model.device):
        logits = model.network(windows.to(model.device))
    return torch.softmax(logits.float(), dim=1).mean(0).cpu().numpy()
