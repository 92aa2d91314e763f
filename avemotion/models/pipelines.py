"""One function per deep model (paper 2.1, 2.3, 2.4): build the training stages, train (resuming
if a matching resume checkpoint exists), then write checkpoint, train log, curve, predictions and
metrics. `train_splits=("train", "val")` is the refit mode of paper 3.2 (test rows only)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..constants import AUDIO_MAP_SIZE
from . import data
from .data import Clip
from .inception import BNInception, InceptionLSTM
from .heads import AudioLSTM
from .outputs import evaluation_splits, plot_curve, prediction_rows, write_outputs, write_train_log
from .training import Stage, TrainResult, TrainSettings, autocast, fingerprint, run_stages, save_checkpoint
from .vgg import VGG16, VGGLSTM, load_vgg_face_weights, vgg_param_groups

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOutputs:
    """Where one model's artifacts go (the rule's outputs)."""

    checkpoint: Path
    train_log: Path
    curve: Path
    predictions: Path
    metrics: Path | None = None  # None in refit mode

    @property
    def resume(self) -> Path:
        return self.checkpoint.with_name("resume.pt")

    @classmethod
    def of(cls, checkpoint, train_log, curve, predictions, metrics=None) -> "ModelOutputs":
        return cls(Path(checkpoint), Path(train_log), Path(curve), Path(predictions),
                   Path(metrics) if metrics else None)


def finish(name: str, result: TrainResult, clips: Sequence[Clip], train_splits: Sequence[str],
           predict: Callable[[Clip], np.ndarray], outputs: ModelOutputs, extra: Mapping) -> dict:
    """Predict val/test clips and write every artifact; the resume file goes once all is written."""
    splits = evaluation_splits(train_splits)
    with torch.no_grad():
        rows = prediction_rows(clips, splits, predict)
    metrics = write_outputs(rows, splits, outputs.predictions, outputs.metrics)
    write_train_log(outputs.train_log, result.log_rows)
    plot_curve(outputs.curve, result.log_rows, f"{name} (trained on {'+'.join(train_splits)})")
    save_checkpoint(outputs.checkpoint, {"model": name, "state_dict": result.model.state_dict(),
                                         "train_splits": list(train_splits), **extra})
    outputs.resume.unlink(missing_ok=True)
    for split, block in metrics.items():
        log.info("%s %s: accuracy %s, UAR %s (n=%d)", name, split, block["accuracy"], block["uar"], block["n"])
    return metrics


def softmax_mean(model: nn.Module, windows: torch.Tensor, device: torch.device, *extra) -> np.ndarray:
    with autocast(device):
        logits = model(windows.to(device), *extra)
    return torch.softmax(logits.float(), dim=1).mean(0).cpu().numpy()


# ------------------------------------------------------------------ VGG-LSTM (paper 2.1)

def train_vgg_lstm(manifest: str | Path, face_files: Sequence[str | Path], outputs: ModelOutputs,
                   model_config: Mapping, training_config: Mapping, name: str = "vgg_lstm",
                   train_splits: Sequence[str] = ("train",), threads: int = 0,
                   stop_after_steps: int | None = None) -> dict:
    """Paper 2.1: (a) optional FER-2013, (b) fine-tune on aligned faces, (c) VGG up to fc6 +
    LSTM(128) + FC(7) on 16 faces every 8th frame, end to end."""
    settings = TrainSettings.from_config(training_config, threads)
    clips = data.load_clips(manifest, data.files_by_clip(face_files), "faces")
    train = data.training_clips(clips, train_splits)
    config = dict(model_config)
    fer_images, fer_targets = (data.read_fer2013(config["fer2013_csv"]) if config["fer2013_csv"]
                               else (np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64)))
    length, gap = int(config["sequence_length"]), int(config["frame_gap"])

    def build_vgg(_: nn.Module | None) -> nn.Module:
        vgg = VGG16(int(config["input_size"]), float(config["width_multiplier"]))
        if config["vgg_face_weights"]:
            load_vgg_face_weights(vgg, config["vgg_face_weights"])
        return vgg

    common = dict(lr=float(config["lr"]), optimizer=config["optimizer"], momentum=float(config["momentum"]),
                  weight_decay=float(config["weight_decay"]), lr_step_iterations=int(config["lr_step_iterations"]),
                  lr_gamma=float(config["lr_gamma"]))
    stages = [
        Stage("fer2013", build_vgg, data.GreyImages(fer_images, fer_targets), int(config["fer_iterations"]),
              int(config["frame_batch_size"]), param_groups=lambda m, lr: vgg_param_groups(m, lr, m.fc8), **common),
        Stage("frames", lambda m: m, data.FaceFrames(train), int(config["frame_iterations"]),
              int(config["frame_batch_size"]), param_groups=lambda m, lr: vgg_param_groups(m, lr, m.fc8), **common),
        Stage("sequences", lambda m: VGGLSTM(m, int(config["lstm_hidden"])),
              data.FaceSequences(train, length, gap, settings.seed), int(config["sequence_iterations"]),
              int(config["sequence_batch_size"]), param_groups=lambda m, lr: vgg_param_groups(m, lr, m.head), **common),
    ]
    run_id = fingerprint([name, config, training_config, list(train_splits), [c.clip_id for c in train]])
    result = run_stages(stages, settings, outputs.resume, run_id, stop_after_steps)

    def predict(clip: Clip) -> np.ndarray:
        faces, timeline = data.read_faces(clip.path)
        windows = [faces[data.sample_face_rows(timeline, start, length, gap)]
                   for start in data.window_starts(timeline.size, length * gap)]
        return softmax_mean(result.model, torch.from_numpy(np.stack(windows)).permute(0, 1, 4, 2, 3), result.device)

    return finish(name, result, clips, train_splits, predict, outputs, {"config": config})


# ------------------------------------------------------------------ audio LSTM (paper 2.3)

def train_audio_lstm(manifest: str | Path, sequence_files: Sequence[str | Path], outputs: ModelOutputs,
                     model_config: Mapping, training_config: Mapping, name: str = "audio_lstm",
                     train_splits: Sequence[str] = ("train",), threads: int = 0,
                     stop_after_steps: int | None = None) -> dict:
    """Paper 2.3: one-layer LSTM(512) on the 34-dim short-term sequences, standardised with the
    training clips' per-feature mean and std."""
    settings = TrainSettings.from_config(training_config, threads)
    clips = data.load_clips(manifest, data.files_by_clip(sequence_files), "audio shortterm")
    train = data.training_clips(clips, train_splits)
    config = dict(model_config)
    min_length = int(config["min_sequence_length"])
    mean, std = (data.feature_statistics([data.read_audio_array(c.path, "features") for c in train]) if train
                 else (np.zeros(34, np.float32), np.ones(34, np.float32)))
    dataset = data.AudioSequences(train, mean, std, min_length)
    stages = [Stage("sequences", lambda _: AudioLSTM(len(mean), int(config["hidden"])), dataset,
                    int(config["iterations"]), int(config["batch_size"]), lr=float(config["lr"]),
                    optimizer=config["optimizer"], momentum=float(config["momentum"]),
                    weight_decay=float(config["weight_decay"]), lr_step_iterations=int(config["lr_step_iterations"]),
                    lr_gamma=float(config["lr_gamma"]), collate_fn=data.collate_padded)]
    run_id = fingerprint([name, config, training_config, list(train_splits), [c.clip_id for c in train]])
    result = run_stages(stages, settings, outputs.resume, run_id, stop_after_steps)

    def predict(clip: Clip) -> np.ndarray:
        sequence = data.pad_to_min_length(data.read_audio_array(clip.path, "features"), min_length)
        return softmax_mean(result.model, torch.from_numpy((sequence - mean) / std).unsqueeze(0), result.device)

    return finish(name, result, clips, train_splits, predict, outputs,
                  {"config": config, "feature_mean": mean, "feature_std": std})


# ------------------------------------------------------------------ Inception(v2)-LSTM (paper 2.4)

def map_statistics(clips: Sequence[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature-row mean/std of the training maps, shaped [34, 1] to broadcast over [.., 34, 34]."""
    if not clips:
        return np.zeros((AUDIO_MAP_SIZE, 1), np.float32), np.ones((AUDIO_MAP_SIZE, 1), np.float32)
    mean, std = data.feature_statistics([data.read_audio_array(c.path, "maps").transpose(0, 2, 1) for c in clips])
    return mean[:, None], std[:, None]


def train_inception_lstm(manifest: str | Path, map_files: Sequence[str | Path], outputs: ModelOutputs,
                         model_config: Mapping, training_config: Mapping, name: str = "inception_lstm",
                         train_splits: Sequence[str] = ("train",), threads: int = 0,
                         stop_after_steps: int | None = None) -> dict:
    """Paper 2.4: BN-Inception on single 34x34 maps, then layers after the global pool replaced by
    LSTM(128) + FC(7) over 8 maps; SGD, lr 0.001 /10 every 3000 iterations, batch 16, wd 0.002."""
    settings = TrainSettings.from_config(training_config, threads)
    clips = data.load_clips(manifest, data.files_by_clip(map_files), "audio maps")
    train = data.training_clips(clips, train_splits)
    config = dict(model_config)
    scale = map_statistics(train)
    length = int(config["sequence_length"])
    common = dict(lr=float(config["lr"]), optimizer=config["optimizer"], momentum=float(config["momentum"]),
                  weight_decay=float(config["weight_decay"]), lr_step_iterations=int(config["lr_step_iterations"]),
                  lr_gamma=float(config["lr_gamma"]))
    stages = [
        Stage("maps", lambda _: BNInception(float(config["width_multiplier"])), data.AudioMaps(train, scale),
              int(config["map_iterations"]), int(config["batch_size"]), **common),
        Stage("sequences", lambda m: InceptionLSTM(m, int(config["lstm_hidden"])),
              data.MapSequences(train, scale, length, settings.seed), int(config["sequence_iterations"]),
              int(config["sequence_batch_size"]), **common),
    ]
    run_id = fingerprint([name, config, training_config, list(train_splits), [c.clip_id for c in train]])
    result = run_stages(stages, settings, outputs.resume, run_id, stop_after_steps)

    def predict(clip: Clip) -> np.ndarray:
        maps = data.pad_to_min_length(data.read_audio_array(clip.path, "maps"), length)
        windows = np.stack([data.standardize_map(maps[s:s + length], scale)
                            for s in data.window_starts(len(maps), length)])
        return softmax_mean(result.model, torch.from_numpy(windows), result.device)

    return finish(name, result, clips, train_splits, predict, outputs,
                  {"config": config, "map_mean": scale[0], "map_std": scale[1]})
