"""The training entry points of the five models (paper 2.1-2.4). Each loads the manifest's clips with
their per-clip artifacts ({clip_id: path}), trains on the training splits, then writes its model
file, train log, curve, predictions and metrics (`outputs.ModelOutputs`). `train_splits=("train",
"val")` is the refit mode of paper 3.2: the predictions and metrics then hold the test clips only.

The three deep models share one run (`train_deep_model`: settings, clips, resume fingerprint, stages,
artifacts); each states only its recipe: its stages and its input statistics.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from torch import nn

from ..constants import AUDIO_MAP_SIZE, N_SHORT_TERM_FEATURES
from .clips import Clip, load_clips, training_clips
from .data import (AudioMaps, AudioSequences, FaceAugmentation, FaceFrames, FaceSequences, GreyImages, MapSequences,
                   collate_padded, frame_gap_unit, read_audio_array, read_fer2013)
from .heads import AudioLSTM
from .inception import BNInception, InceptionLSTM
from .outputs import ModelOutputs, write_evaluation
from .sampling import feature_statistics
from .svm import fit_svm
from .trained import (ARCHITECTURE_INPUT, AUDIO_LSTM, AUDIO_SVM, INCEPTION_LSTM, VGG_LSTM, TrainedModel,
                      predict_clip_probabilities, save_trained_model)
from .training import Solver, Stage, TrainSettings, fingerprint, run_stages
from .vgg import VGGLSTM, vgg16_from_config, vgg_param_groups
from .vgg_face import load_vgg_face_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    """What a deep model trains: its stages, in order, and the statistics that standardise its
    inputs ({"mean", "std"} of the training clips; none for the VGG-LSTM)."""

    stages: list[Stage]
    statistics: dict[str, np.ndarray] = field(default_factory=dict)


# (training clips, model config, seed) -> Recipe
RecipeBuilder = Callable[[list[Clip], dict, int], Recipe]


def train_vgg_lstm(manifest: str | Path, clip_files: Mapping[str, str | Path], outputs: ModelOutputs,
                   model_config: Mapping, training_config: Mapping, name: str = VGG_LSTM,
                   train_splits: Sequence[str] = ("train",), threads: int = 0,
                   stop_after_steps: int | None = None) -> dict:
    """Paper 2.1 on the clips' face stacks (`vgg_lstm_recipe`); returns the metrics."""
    return train_deep_model(VGG_LSTM, vgg_lstm_recipe, manifest, clip_files, outputs, model_config, training_config,
                            name, train_splits, threads, stop_after_steps)


def train_audio_lstm(manifest: str | Path, clip_files: Mapping[str, str | Path], outputs: ModelOutputs,
                     model_config: Mapping, training_config: Mapping, name: str = AUDIO_LSTM,
                     train_splits: Sequence[str] = ("train",), threads: int = 0,
                     stop_after_steps: int | None = None) -> dict:
    """Paper 2.3 on the clips' short-term sequences (`audio_lstm_recipe`); returns the metrics."""
    return train_deep_model(AUDIO_LSTM, audio_lstm_recipe, manifest, clip_files, outputs, model_config,
                            training_config, name, train_splits, threads, stop_after_steps)


def train_inception_lstm(manifest: str | Path, clip_files: Mapping[str, str | Path], outputs: ModelOutputs,
                         model_config: Mapping, training_config: Mapping, name: str = INCEPTION_LSTM,
                         train_splits: Sequence[str] = ("train",), threads: int = 0,
                         stop_after_steps: int | None = None) -> dict:
    """Paper 2.4 on the clips' audio maps (`inception_lstm_recipe`); returns the metrics."""
    return train_deep_model(INCEPTION_LSTM, inception_lstm_recipe, manifest, clip_files, outputs, model_config,
                            training_config, name, train_splits, threads, stop_after_steps)


def train_audio_svm(manifest: str | Path, clip_files: Mapping[str, str | Path], outputs: ModelOutputs,
                    model_config: Mapping, training_config: Mapping,
                    train_splits: Sequence[str] = ("train",)) -> dict:
    """Paper 2.2 on the clips' IS10 functionals: grid search and fit on the training splits, then
    checkpoint.pt (`outputs.checkpoint`), the grid-search log (one row per C/kernel pair: `lr` holds
    C, `accuracy` the mean cv accuracy), its plot, predictions and metrics; returns the metrics."""
    clips = load_clips(manifest, clip_files, ARCHITECTURE_INPUT[AUDIO_SVM])
    train = training_clips(clips, train_splits)
    features = np.stack([read_audio_array(c.path) for c in train])
    targets = np.array([c.target for c in train])
    pipeline, log_rows = fit_svm(features, targets, model_config, int(training_config["seed"]))
    trained = TrainedModel(AUDIO_SVM, AUDIO_SVM, pipeline, dict(model_config))
    return finish(trained, clips, train_splits, log_rows, f"{AUDIO_SVM} grid search", outputs)


def train_deep_model(architecture: str, recipe: RecipeBuilder, manifest: str | Path,
                     clip_files: Mapping[str, str | Path], outputs: ModelOutputs, model_config: Mapping,
                     training_config: Mapping, name: str, train_splits: Sequence[str], threads: int,
                     stop_after_steps: int | None) -> dict:
    """Train the recipe's stages on the training clips, resuming from `outputs.resume` when it was
    written by a run of the same settings and clips, then write every artifact (`finish`).
    `stop_after_steps` (tests only) stops after that many steps, as a killed job would."""
    settings = TrainSettings.from_config(training_config, threads)
    clips = load_clips(manifest, clip_files, ARCHITECTURE_INPUT[architecture])
    train = training_clips(clips, train_splits)
    config = dict(model_config)
    plan = recipe(train, config, settings.seed)
    run_id = fingerprint([name, config, settings.result_settings, list(train_splits), [c.clip_id for c in train]])
    result = run_stages(plan.stages, settings, outputs.resume, run_id, stop_after_steps, outputs.train_log)
    trained = TrainedModel(name, architecture, result.model, config, result.device, plan.statistics)
    metrics = finish(trained, clips, train_splits, result.log_rows, name, outputs)
    outputs.resume.unlink(missing_ok=True)
    return metrics


def finish(trained: TrainedModel, clips: Sequence[Clip], train_splits: Sequence[str], log_rows: Sequence[Mapping],
           title: str, outputs: ModelOutputs) -> dict:
    """Predict the evaluation clips with `predict_clip_probabilities` and write predictions, metrics,
    train log, curve and, last, the model file."""
    metrics = write_evaluation(clips, train_splits, lambda clip: predict_clip_probabilities(trained, clip.path),
                               log_rows, title, outputs)
    save_trained_model(trained, train_splits, outputs.checkpoint)
    for split, block in metrics.items():
        log.info("%s %s: accuracy %s, UAR %s (n=%d)", trained.name, split, block["accuracy"], block["uar"],
                 block["n"])
    return metrics


def vgg_lstm_recipe(train: list[Clip], config: dict, seed: int) -> Recipe:
    """Paper 2.1: (a) optional FER-2013 (the rows of `fer2013_usages`), (b) fine-tune on aligned
    faces, (c) VGG up to fc6 + LSTM(128) + FC(7) on 16 faces every 8th frame (of the timeline or the
    source: `frame_gap_unit`), end to end."""
    fer_images, fer_targets = (read_fer2013(config["fer2013_csv"], tuple(config["fer2013_usages"]))
                               if config["fer2013_csv"]
                               else (np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64)))
    length, gap = int(config["sequence_length"]), int(config["frame_gap"])
    augmentation = FaceAugmentation.from_config(config)

    def build_vgg(_: nn.Module | None) -> nn.Module:
        vgg = vgg16_from_config(config)
        if config["vgg_face_weights"]:
            load_vgg_face_weights(vgg, config["vgg_face_weights"])
        return vgg

    frame_solver, sequence_solver = Solver.from_config(config), Solver.from_config(config, lr_key="sequence_lr")
    # paper 2.1: fc8 learns at 10x in steps (a) and (b); the new LSTM head of step (c) at
    # `sequence_head_lr_multiplier` (the paper gives none: 1 in configs/paper.yaml)
    head_multiplier = float(config["sequence_head_lr_multiplier"])
    return Recipe([
        Stage("fer2013", build_vgg, GreyImages(fer_images, fer_targets), int(config["fer_iterations"]),
              int(config["frame_batch_size"]), frame_solver, lambda m, lr: vgg_param_groups(m, lr, m.fc8)),
        Stage("frames", lambda m: m, FaceFrames(train, seed, augmentation),
              int(config["frame_iterations"]), int(config["frame_batch_size"]), frame_solver,
              lambda m, lr: vgg_param_groups(m, lr, m.fc8)),
        Stage("sequences", lambda m: VGGLSTM(m, int(config["lstm_hidden"])),
              FaceSequences(train, length, gap, seed, augmentation, frame_gap_unit(config)),
              int(config["sequence_iterations"]), int(config["sequence_batch_size"]), sequence_solver,
              lambda m, lr: vgg_param_groups(m, lr, m.head, head_multiplier)),
    ])


def audio_lstm_recipe(train: list[Clip], config: dict, seed: int) -> Recipe:
    """Paper 2.3: one-layer LSTM(512) on the 34-dim short-term sequences, standardised with the
    training clips' per-feature mean and std."""
    mean, std = (feature_statistics([read_audio_array(c.path) for c in train]) if train
                 else (np.zeros(N_SHORT_TERM_FEATURES, np.float32), np.ones(N_SHORT_TERM_FEATURES, np.float32)))
    dataset = AudioSequences(train, mean, std, int(config["min_sequence_length"]))
    stage = Stage("sequences", lambda _: AudioLSTM(len(mean), int(config["hidden"])), dataset,
                  int(config["iterations"]), int(config["batch_size"]), Solver.from_config(config),
                  collate_fn=collate_padded)
    return Recipe([stage], {"mean": mean, "std": std})


def inception_lstm_recipe(train: list[Clip], config: dict, seed: int) -> Recipe:
    """Paper 2.4: BN-Inception on single 34x34 maps, then its layers up to the global pool + LSTM(128)
    + FC(7) on 8 consecutive maps; maps standardised per feature row with the training clips' stats."""
    mean, std = map_statistics(train)
    length = int(config["sequence_length"])
    # paper 2.4: the single-map stage trains with Inception-v2's ImageNet solver ([24]; map_solver),
    # the Inception-LSTM with the paper's own (lr 0.001 /10 every 3000, batch 16, wd 0.002)
    return Recipe([
        Stage("maps", lambda _: BNInception(float(config["width_multiplier"])), AudioMaps(train, (mean, std)),
              int(config["map_iterations"]), int(config["batch_size"]), Solver.from_config(config["map_solver"])),
        Stage("sequences", lambda m: InceptionLSTM(m, int(config["lstm_hidden"])),
              MapSequences(train, (mean, std), length, seed), int(config["sequence_iterations"]),
              int(config["sequence_batch_size"]), Solver.from_config(config)),
    ], {"mean": mean, "std": std})


def map_statistics(clips: Sequence[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature-row mean/std of the training maps, shaped [34, 1] to broadcast over [.., 34, 34]."""
    if not clips:
        return np.zeros((AUDIO_MAP_SIZE, 1), np.float32), np.ones((AUDIO_MAP_SIZE, 1), np.float32)
    mean, std = feature_statistics([read_audio_array(c.path).transpose(0, 2, 1) for c in clips])
    return mean[:, None], std[:, None]
