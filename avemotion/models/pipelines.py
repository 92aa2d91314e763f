"""One function per deep model (paper 2.1, 2.3, 2.4): build the training stages, train (resuming
if a matching resume checkpoint exists), then write checkpoint, train log, curve, predictions and
metrics. `train_splits=("train", "val")` is the refit mode of paper 3.2 (test rows only)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..constants import AUDIO_MAP_SIZE
from . import data
from .data import Clip
from .inception import BNInception, InceptionLSTM
from .heads import AudioLSTM
from .outputs import evaluation_splits, plot_curve, prediction_rows, write_outputs, write_train_log
from .training import Solver, Stage, TrainResult, TrainSettings, autocast, fingerprint, run_stages, save_checkpoint
from .vgg import VGGLSTM, load_vgg_face_weights, vgg16_from_config, vgg_param_groups

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
           trained: "TrainedModel", outputs: ModelOutputs, extra: Mapping) -> dict:
    """Predict val/test clips (with `predict_clip_probabilities`, the function `avemotion predict`
    calls on new clips) and write every artifact; the resume file goes once all is written."""
    splits = evaluation_splits(train_splits)
    rows = prediction_rows(clips, splits, lambda clip: predict_clip_probabilities(trained, clip.path))
    metrics = write_outputs(rows, splits, outputs.predictions, outputs.metrics)
    write_train_log(outputs.train_log, result.log_rows)
    plot_curve(outputs.curve, result.log_rows, f"{name} (trained on {'+'.join(train_splits)})")
    save_checkpoint(outputs.checkpoint, {"model": name, "architecture": trained.architecture,
                                         "state_dict": result.model.state_dict(),
                                         "train_splits": list(train_splits), **extra})
    outputs.resume.unlink(missing_ok=True)
    for split, block in metrics.items():
        log.info("%s %s: accuracy %s, UAR %s (n=%d)", name, split, block["accuracy"], block["uar"], block["n"])
    return metrics


def softmax_mean(model: nn.Module, windows: torch.Tensor, device: torch.device, *extra) -> np.ndarray:
    with autocast(device):
        logits = model(windows.to(device), *extra)
    return torch.softmax(logits.float(), dim=1).mean(0).cpu().numpy()


# ------------------------------------------------------------------ trained models, per-clip prediction
# One code path for the predictions written at the end of training (`finish`) and for
# `avemotion predict` on new clips, so that both give the same numbers by construction.

VGG_LSTM, AUDIO_LSTM, INCEPTION_LSTM, AUDIO_SVM = "vgg_lstm", "audio_lstm", "inception_lstm", "audio_svm"
# Which per-clip artifact each architecture reads (README, "Artifacts").
ARCHITECTURE_INPUT: dict[str, str] = {VGG_LSTM: "faces", AUDIO_LSTM: "audio shortterm",
                                      INCEPTION_LSTM: "audio maps", AUDIO_SVM: "audio is10"}


@dataclass
class TrainedModel:
    """A trained model ready to predict one clip: its network (or the SVM pipeline), the config it
    was trained with and the standardisation statistics of its training clips."""

    name: str
    architecture: str  # one of ARCHITECTURE_INPUT
    network: object  # nn.Module in eval mode, or the fitted sklearn Pipeline (audio_svm)
    config: dict
    device: torch.device = torch.device("cpu")
    statistics: dict = field(default_factory=dict)  # {"mean", "std"} for the audio LSTM and Inception-LSTM


def architecture_of(checkpoint: Mapping) -> str:
    """The checkpoint's architecture (older checkpoints only name the model: vgg_lstm_a -> vgg_lstm)."""
    if "architecture" in checkpoint:
        return str(checkpoint["architecture"])
    name = str(checkpoint.get("model", ""))
    for architecture in (VGG_LSTM, AUDIO_LSTM, INCEPTION_LSTM):
        if name.startswith(architecture):
            return architecture
    raise ValueError(f"cannot tell the architecture of checkpoint for model {name!r}")


def build_network(architecture: str, config: Mapping, statistics: Mapping) -> nn.Module:
    """The final training stage's network for `architecture`, freshly initialised (paper 2.1, 2.3, 2.4)."""
    if architecture == VGG_LSTM:
        return VGGLSTM(vgg16_from_config(config), int(config["lstm_hidden"]))
    if architecture == AUDIO_LSTM:
        return AudioLSTM(len(statistics["mean"]), int(config["hidden"]))
    if architecture == INCEPTION_LSTM:
        return InceptionLSTM(BNInception(float(config["width_multiplier"])), int(config["lstm_hidden"]))
    raise ValueError(f"unknown architecture {architecture!r}")


def load_trained_model(checkpoint_path: str | Path, device: str | torch.device = "cpu") -> TrainedModel:
    """Load `results/models/{model}/checkpoint.pt` (state_dict + config + statistics) or
    `audio_svm/model.joblib` as written by training, ready for `predict_clip_probabilities`."""
    checkpoint_path = Path(checkpoint_path)
    if not checkpoint_path.is_file():
        raise FileNotFoundError(f"{checkpoint_path}: no trained model (run the pipeline first)")
    if checkpoint_path.suffix == ".joblib":
        import joblib

        saved = joblib.load(checkpoint_path)
        return TrainedModel(AUDIO_SVM, AUDIO_SVM, saved["pipeline"], dict(saved.get("config", {})))
    device = torch.device(device)
    checkpoint = torch.load(checkpoint_path, map_location=device, weights_only=False)
    architecture = architecture_of(checkpoint)
    statistics = {}
    if architecture == AUDIO_LSTM:
        statistics = {"mean": checkpoint["feature_mean"], "std": checkpoint["feature_std"]}
    elif architecture == INCEPTION_LSTM:
        statistics = {"mean": checkpoint["map_mean"], "std": checkpoint["map_std"]}
    network = build_network(architecture, checkpoint["config"], statistics)
    network.load_state_dict(checkpoint["state_dict"])
    network.to(device).eval()
    return TrainedModel(str(checkpoint["model"]), architecture, network, dict(checkpoint["config"]), device, statistics)


def predict_clip_probabilities(model: TrainedModel, clip_file: str | Path) -> np.ndarray:
    """Class probabilities [7] of one clip from its per-clip artifact (faces, short-term sequence,
    maps or IS10 file, per ARCHITECTURE_INPUT). Deep models average the softmax over windows that
    cover the clip (README "Models"); the artifact must have status ok."""
    clip_file = Path(clip_file)
    config = model.config
    if model.architecture == AUDIO_SVM:
        from .svm import predict_svm_clip

        return predict_svm_clip(model.network, clip_file)
    with torch.no_grad():
        if model.architecture == VGG_LSTM:
            length, gap = int(config["sequence_length"]), int(config["frame_gap"])
            faces, timeline = data.read_faces(clip_file)
            windows = [faces[data.sample_face_rows(timeline, start, length, gap)]
                       for start in data.window_starts(timeline.size, length * gap)]
            return softmax_mean(model.network, torch.from_numpy(np.stack(windows)).permute(0, 1, 4, 2, 3),
                                model.device)
        mean, std = model.statistics["mean"], model.statistics["std"]
        if model.architecture == AUDIO_LSTM:
            sequence = data.pad_to_min_length(data.read_audio_array(clip_file, "features"),
                                              int(config["min_sequence_length"]))
            return softmax_mean(model.network, torch.from_numpy((sequence - mean) / std).unsqueeze(0), model.device)
        if model.architecture == INCEPTION_LSTM:
            length = int(config["sequence_length"])
            maps = data.pad_to_min_length(data.read_audio_array(clip_file, "maps"), length)
            windows = np.stack([data.standardize_map(maps[s:s + length], (mean, std))
                                for s in data.window_starts(len(maps), length)])
            return softmax_mean(model.network, torch.from_numpy(windows), model.device)
    raise ValueError(f"unknown architecture {model.architecture!r}")


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
    augmentation = data.FaceAugmentation.from_config(config)

    def build_vgg(_: nn.Module | None) -> nn.Module:
        vgg = vgg16_from_config(config)
        if config["vgg_face_weights"]:
            load_vgg_face_weights(vgg, config["vgg_face_weights"])
        return vgg

    frame_solver, sequence_solver = Solver.from_config(config), Solver.from_config(config, lr_key="sequence_lr")
    # paper 2.1: fc8 learns at 10x in steps (a) and (b); the new LSTM head of step (c) at
    # `sequence_head_lr_multiplier` (the paper gives none: 1 in configs/paper.yaml)
    head_multiplier = float(config["sequence_head_lr_multiplier"])
    stages = [
        Stage("fer2013", build_vgg, data.GreyImages(fer_images, fer_targets), int(config["fer_iterations"]),
              int(config["frame_batch_size"]), frame_solver, lambda m, lr: vgg_param_groups(m, lr, m.fc8)),
        Stage("frames", lambda m: m, data.FaceFrames(train, settings.seed, augmentation),
              int(config["frame_iterations"]), int(config["frame_batch_size"]), frame_solver,
              lambda m, lr: vgg_param_groups(m, lr, m.fc8)),
        Stage("sequences", lambda m: VGGLSTM(m, int(config["lstm_hidden"])),
              data.FaceSequences(train, length, gap, settings.seed, augmentation), int(config["sequence_iterations"]),
              int(config["sequence_batch_size"]), sequence_solver,
              lambda m, lr: vgg_param_groups(m, lr, m.head, head_multiplier)),
    ]
    run_id = fingerprint([name, config, training_config, list(train_splits), [c.clip_id for c in train]])
    result = run_stages(stages, settings, outputs.resume, run_id, stop_after_steps, outputs.train_log)

    trained = TrainedModel(name, VGG_LSTM, result.model, config, result.device)
    return finish(name, result, clips, train_splits, trained, outputs, {"config": config})


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
                    int(config["iterations"]), int(config["batch_size"]), Solver.from_config(config),
                    collate_fn=data.collate_padded)]
    run_id = fingerprint([name, config, training_config, list(train_splits), [c.clip_id for c in train]])
    result = run_stages(stages, settings, outputs.resume, run_id, stop_after_steps, outputs.train_log)

    trained = TrainedModel(name, AUDIO_LSTM, result.model, config, result.device, {"mean": mean, "std": std})
    return finish(name, result, clips, train_splits, trained, outputs,
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
    """Paper 2.4: BN-Inception on single 34x34 maps (solver `map_solver`: Inception-v2's ImageNet
    settings in the paper config), then layers after the global pool replaced by LSTM(128) + FC(7)
    over 8 maps (lr 0.001 /10 every 3000 iterations, batch 16, wd 0.002)."""
    settings = TrainSettings.from_config(training_config, threads)
    clips = data.load_clips(manifest, data.files_by_clip(map_files), "audio maps")
    train = data.training_clips(clips, train_splits)
    config = dict(model_config)
    scale = map_statistics(train)
    length = int(config["sequence_length"])
    stages = [
        # paper 2.4: the single-map stage trains with Inception-v2's ImageNet solver ([24]; map_solver),
        # the Inception-LSTM with the paper's own (lr 0.001 /10 every 3000, batch 16, wd 0.002)
        Stage("maps", lambda _: BNInception(float(config["width_multiplier"])), data.AudioMaps(train, scale),
              int(config["map_iterations"]), int(config["batch_size"]), Solver.from_config(config["map_solver"])),
        Stage("sequences", lambda m: InceptionLSTM(m, int(config["lstm_hidden"])),
              data.MapSequences(train, scale, length, settings.seed), int(config["sequence_iterations"]),
              int(config["sequence_batch_size"]), Solver.from_config(config)),
    ]
    run_id = fingerprint([name, config, training_config, list(train_splits), [c.clip_id for c in train]])
    result = run_stages(stages, settings, outputs.resume, run_id, stop_after_steps, outputs.train_log)

    trained = TrainedModel(name, INCEPTION_LSTM, result.model, config, result.device,
                           {"mean": scale[0], "std": scale[1]})
    return finish(name, result, clips, train_splits, trained, outputs,
                  {"config": config, "map_mean": scale[0], "map_std": scale[1]})
