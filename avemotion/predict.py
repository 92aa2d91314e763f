"""Predict the emotion of new clips with the trained hybrid network (`avemotion predict`).

Every clip goes through the pipeline's own code, into a temporary folder: the probe
(`media.probe_clip`), the 60-fps timeline and 16 kHz wav (`media.write_timeline`, `extract_audio`,
paper 2.1), face tracks a and b (`faces.extract_face_track` with the config's `faces:` settings,
paper 2.1), the audio features (`audio.write_*_artifact` with the config's `audio:` settings, paper
2.2-2.4); then the trained models (`models.load_trained_model` / `predict_clip_probabilities`, the
very functions training used for `results/predictions/{model}.tsv`) and the decision fusion with the
weights of `results/fusion/weights.json` (paper 3.2). A clip the pipeline would have processed gets
the same numbers as the pipeline's predictions.

A clip that one modality cannot see (no face found, no audio stream, silent or too short audio) is
predicted from the models that can see it, by the pipeline's own rule (`fusion.fuse_probabilities`,
the rule the grid search scored the weights with): the fusion weights are renormalised over those
models; when they all have fusion weight 0 they get equal weights, and the output says so. The
pipeline's fused row for such a clip is the same. A clip no model can see, or that cannot be read,
gets a message and no prediction (the pipeline scores such a clip as a miss); the other clips are
still predicted.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from .artifacts import STATUS_OK, read_status
from .constants import CLASS_NAMES, CLASSES, FACE_TRACKS, FUSION
from .datasets import VIDEO_SUFFIXES, clip_id_from_stem
from .fusion import clip_weights, fuse_probabilities, fusion_note
from .layout import AUDIO_FEATURES, TIMELINE, WAV, model_file

log = logging.getLogger(__name__)

# The per-clip input each model reads (docs/artifacts.md), by the name predict gives its temp file.
MODEL_INPUT: dict[str, str] = {"vgg_lstm_a": "faces_a", "vgg_lstm_b": "faces_b", "audio_svm": "is10",
                               "audio_lstm": "shortterm", "inception_lstm": "maps"}
AUDIO_INPUTS: tuple[str, ...] = tuple(AUDIO_FEATURES)
STEPS: tuple[str, ...] = ("probe", "media", "faces", "audio", "models", "fusion")

STATUS_PARTIAL, STATUS_FAILED, STATUS_UNAVAILABLE = "partial", "failed", "unavailable"


@dataclass
class ModelPrediction:
    """One model's output for one clip."""

    model: str
    status: str  # ok | unavailable
    probs: np.ndarray | None  # [7] in CLASSES order; None when unavailable
    weight: float  # the fusion weight of results/fusion/weights.json
    used_weight: float  # the weight actually used for this clip (renormalised; 0 when unavailable)
    reason: str = ""

    @property
    def label(self) -> str | None:
        return None if self.probs is None else CLASSES[int(np.argmax(self.probs))]

    def to_dict(self) -> dict:
        return {"model": self.model, "status": self.status, "label": self.label,
                "probabilities": _probability_dict(self.probs), "weight": self.weight,
                "used_weight": self.used_weight, "reason": self.reason}


@dataclass
class ClipPrediction:
    """The fused prediction of one clip, each model's, and what happened on the way."""

    path: str
    clip_id: str
    status: str  # ok (every model saw the clip) | partial (some could not) | failed (no prediction)
    probs: np.ndarray | None  # fused [7]; None when failed
    models: dict[str, ModelPrediction] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    # seconds per step (STEPS), plus faces_{track} and model_{model} inside "faces" and "models"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str | None:
        return None if self.probs is None else CLASSES[int(np.argmax(self.probs))]

    @property
    def label_name(self) -> str | None:
        return None if self.label is None else CLASS_NAMES[self.label]

    def to_dict(self) -> dict:
        return {"path": self.path, "clip_id": self.clip_id, "status": self.status, "label": self.label,
                "label_name": self.label_name, "probabilities": _probability_dict(self.probs),
                "models": {name: model.to_dict() for name, model in self.models.items()},
                "messages": list(self.messages), "timings_s": {k: round(v, 4) for k, v in self.timings.items()}}


def _probability_dict(probs: np.ndarray | None) -> dict[str, float] | None:
    return None if probs is None else {c: float(p) for c, p in zip(CLASSES, probs)}


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------
def expand_clip_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Each path as given; a folder becomes its video files (any depth, sorted by path)."""
    expanded: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            expanded += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            expanded.append(path)  # a missing or unreadable file gets its message from the probe
    return expanded


def resolve_config(config: Mapping | str | os.PathLike | None) -> dict:
    """The full config dict: as given, or a config file merged over config.yaml (like Snakemake)."""
    from .config import load_config

    if config is None:
        return load_config()
    if isinstance(config, Mapping):
        return dict(config)
    return load_config(config)


# --------------------------------------------------------------------------------------------------
# Fusion over the models that see a clip (paper 3.2)
# --------------------------------------------------------------------------------------------------
def fuse_available(probs: Mapping[str, np.ndarray | None], weights: Mapping[str, float]
                   ) -> tuple[np.ndarray | None, dict[str, float], str]:
    """One clip through the pipeline's fusion (`fusion.fuse_probabilities`): the weighted sum of the
    available models' probabilities, weights renormalised over them.

    `probs` maps each fused model to its probabilities, or None when it cannot see the clip.
    Returns (fused [7] or None when no model is available, the weight used per model, a note that
    says what was left out, "" when nothing was: `fusion.fusion_note`).
    """
    models = list(weights)
    seen = np.array([[probs.get(m) is not None] for m in models])  # [M, 1]
    stacked = np.stack([np.full(len(CLASSES), np.nan) if probs.get(m) is None else np.asarray(probs[m], dtype=float)
                        for m in models])[:, None, :]
    model_weights = np.array([float(weights[m]) for m in models])
    fused = fuse_probabilities(stacked, seen, model_weights)[0]
    used = {m: float(w) for m, w in zip(models, clip_weights(model_weights, seen)[:, 0])}
    note = fusion_note(models, model_weights, seen[:, 0])
    return (None if not seen.any() else fused), used, note


# --------------------------------------------------------------------------------------------------
# The predictor: trained models and settings loaded once, then one clip at a time
# --------------------------------------------------------------------------------------------------
def read_fusion_weights(results_dir: str | os.PathLike) -> dict:
    path = Path(results_dir) / "fusion" / "weights.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no fusion weights (run the pipeline first: snakemake --cores N)")
    return json.loads(path.read_text())


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start


class Predictor:
    """The trained hybrid network of one finished pipeline run (its results folder and config, or
    its bundle: `avemotion.bundle`), ready to predict new clips."""

    def __init__(self, results_dir: str | os.PathLike = "results", config: Mapping | str | os.PathLike | None = None,
                 device: str = "cpu", bundle: str | os.PathLike | None = None) -> None:
        from .models import load_trained_model, trained_model_from_weights

        # how the software that wrote the bundle differs from this one (empty for a results folder)
        self.differences: list[str] = []
        if bundle is not None:
            from .bundle import read_bundle
            from .config import merge_config

            contents = read_bundle(bundle)
            self.differences = contents.differences()
            source = str(bundle)
            # the bundle's result settings over config.yaml's (which gives the run settings)
            self.config = merge_config(resolve_config(None), {block: contents.config[block]
                                                              for block in ("media", "audio")})
            self.face_settings = {track: contents.config["faces"][f"track_{track}"] for track in FACE_TRACKS}
            fusion = contents.config["fusion"]

            def load(model: str):
                return trained_model_from_weights(contents.model_weights[model], device)
        else:
            from .config import track_settings

            source = f"{results_dir}/fusion/weights.json"
            self.config = resolve_config(config)
            # each track's settings as the pipeline's faces jobs get them
            self.face_settings = {track: track_settings(self.config["faces"], track) for track in FACE_TRACKS}
            fusion = read_fusion_weights(results_dir)

            def load(model: str):
                return load_trained_model(model_file(model, self.refit, results_dir), device)
        self.weights: dict[str, float] = {m: float(fusion["weights"][m]) for m in fusion["models"]}
        # paper 3.2: with refit the fused test predictions came from the models retrained on train+val
        self.refit = bool(fusion.get("refit", False))
        unknown = [m for m in self.weights if m not in MODEL_INPUT]
        if unknown:
            raise ValueError(f"{source} names unknown models {unknown}")
        self.models = {m: load(m) for m in self.weights}
        self.needed_inputs = {MODEL_INPUT[m] for m in self.weights}

    # ---------------------------------------------------------------------------- one clip
    def predict(self, path: str | os.PathLike) -> ClipPrediction:
        """Predict one clip (never raises for a bad clip: its problems are in `messages`)."""
        path = Path(path)
        clip_id = clip_id_from_stem(path.stem)
        prediction = ClipPrediction(path=str(path), clip_id=clip_id, status=STATUS_FAILED, probs=None)
        with tempfile.TemporaryDirectory(prefix=f"avemotion_predict_{clip_id}_") as workdir:
            try:
                self._predict_into(prediction, path, Path(workdir))
            except Exception as error:  # a broken clip must not stop the other clips
                log.exception("clip %s: prediction failed", path)
                prediction.status, prediction.probs = STATUS_FAILED, None
                prediction.messages.append(f"{path}: prediction failed ({type(error).__name__}: {error})")
        return prediction

    def _predict_into(self, prediction: ClipPrediction, path: Path, workdir: Path) -> None:
        from .media import ClipProbeError, probe_clip

        timings = prediction.timings
        with _timed(timings, "probe"):
            try:
                # audio is optional here: a clip without usable audio is predicted from its faces
                info = probe_clip(path, require_audio=False, min_audio_s=0.0)
            except ClipProbeError as error:
                prediction.messages.append(f"{path}: cannot read this clip: {error}")
                return
        inputs = self._extract_features(prediction.clip_id, path, info, workdir, timings)
        probs: dict[str, np.ndarray | None] = {}
        reasons: dict[str, str] = {}
        with _timed(timings, "models"):
            from .models import predict_clip_probabilities

            for model, trained in self.models.items():
                input_path, reason = inputs[MODEL_INPUT[model]]
                probs[model], reasons[model] = None, reason
                if not reason:
                    with _timed(timings, f"model_{model}"):
                        probs[model] = np.asarray(predict_clip_probabilities(trained, input_path), dtype=float)
        with _timed(timings, "fusion"):
            fused, used, note = fuse_available(probs, self.weights)
        prediction.models = {
            m: ModelPrediction(m, STATUS_OK if probs[m] is not None else STATUS_UNAVAILABLE, probs[m],
                               self.weights[m], used[m], reasons[m])
            for m in self.models}
        for model, reason in reasons.items():
            if reason:
                prediction.messages.append(f"{model} cannot see this clip: {reason}")
        if note:
            prediction.messages.append(note)
        prediction.probs = fused
        if fused is None:
            prediction.status = STATUS_FAILED
        else:
            prediction.status = STATUS_PARTIAL if any(reasons.values()) else STATUS_OK

    def _extract_features(self, clip_id: str, path: Path, info, workdir: Path,
                          timings: dict[str, float]) -> dict[str, tuple[Path, str]]:
        """The pipeline's media, face and audio stages on one clip: {input: (h5 path, reason or "")}."""
        from .media import extract_audio, write_timeline

        media = self.config["media"]
        timeline_path, wav_path = TIMELINE.in_folder(workdir, clip_id), WAV.in_folder(workdir, clip_id)
        with _timed(timings, "media"):
            # the manifest row as datasets.probe_candidates writes it (fps rounded the same way)
            row = {"duration_s": round(info.duration_s, 4), "fps": round(info.fps, 4), "n_frames": info.n_frames,
                   "width": info.width, "height": info.height}
            write_timeline(timeline_path, clip_id, row, timeline_fps=int(media["timeline_fps"]))
            n_samples = extract_audio(path, wav_path, int(media["audio_sample_rate"]), has_audio=info.has_audio)
        inputs: dict[str, tuple[Path, str]] = {}
        with _timed(timings, "faces"):
            for track in FACE_TRACKS:
                if f"faces_{track}" in self.needed_inputs:
                    with _timed(timings, f"faces_{track}"):
                        inputs[f"faces_{track}"] = self._face_track(clip_id, path, timeline_path, workdir, track)
        with _timed(timings, "audio"):
            if not info.has_audio:
                reason = f"clip {clip_id}: no audio stream"
                inputs.update({name: (workdir / f"{name}.h5", reason) for name in AUDIO_INPUTS})
            elif self.needed_inputs & set(AUDIO_INPUTS):
                inputs.update(self._audio_features(clip_id, wav_path, workdir))
            log.info("clip %s: %d audio samples", clip_id, n_samples)
        return inputs

    def _face_track(self, clip_id: str, path: Path, timeline_path: Path, workdir: Path,
                    track: str) -> tuple[Path, str]:
        from .faces import extract_face_track

        out = workdir / f"faces_{track}.h5"
        try:
            extract_face_track(path, timeline_path, out, self.face_settings[track], track,
                               self.config["faces"]["queue_size"])
        except Exception as error:
            return out, f"clip {clip_id}: face track {track} failed ({type(error).__name__}: {error})"
        return out, _reason_if_quarantined(out)

    def _audio_features(self, clip_id: str, wav_path: Path, workdir: Path) -> dict[str, tuple[Path, str]]:
        from .audio import write_audio_artifacts

        paths = {name: workdir / f"{name}.h5" for name in AUDIO_INPUTS}
        write_audio_artifacts(wav_path, paths, clip_id, self.config["audio"])
        return {name: (p, _reason_if_quarantined(p)) for name, p in paths.items()}


def _reason_if_quarantined(path: Path) -> str:
    status, reason = read_status(path)
    return "" if status == STATUS_OK else (reason or f"{path.name} quarantined")


def predict_clips(paths: Sequence[str | os.PathLike], results_dir: str | os.PathLike = "results",
                  config: Mapping | str | os.PathLike | None = None, device: str = "cpu",
                  bundle: str | os.PathLike | None = None) -> list[ClipPrediction]:
    """Predict every clip (folders expanded to their video files) with the trained hybrid network of
    `results_dir`, where `config` is the config dict or file the pipeline ran with (its `media:`,
    `faces:` and `audio:` settings are used); or with the network of `bundle` (results_dir and config
    are then not read)."""
    predictor = Predictor(results_dir, config, device, bundle)
    return [predictor.predict(path) for path in expand_clip_paths(paths)]


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------
def predictions_json(predictions: Sequence[ClipPrediction]) -> str:
    return json.dumps([p.to_dict() for p in predictions], indent=2)


def format_table(predictions: Sequence[ClipPrediction]) -> str:
    """Per clip: the fused label and probabilities, then one row per model, then the messages."""
    header = f"  {'model':<16}{'label':<7}" + "".join(f"{c:>7}" for c in CLASSES) + f"{'weight':>9}  status"
    lines: list[str] = []
    for clip in predictions:
        if clip.label is None:
            lines.append(f"{clip.path}: no prediction")
        else:
            lines.append(f"{clip.path}: {clip.label} ({clip.label_name}, p={clip.probs.max():.3f})"
                         + ("" if clip.status == STATUS_OK else f" [{clip.status}]"))
        if clip.models:
            lines.append(header)
            rows = list(clip.models.values())
            if clip.probs is not None:
                rows.append(ModelPrediction(FUSION, clip.status, clip.probs, 1.0, 1.0))
            for model in rows:
                cells = ("".join(f"{p:>7.3f}" for p in model.probs) if model.probs is not None
                         else "".join(f"{'-':>7}" for _ in CLASSES))
                weight = f"{model.used_weight:.2f}" if model.model != FUSION else ""
                lines.append(f"  {model.model:<16}{model.label or '-':<7}{cells}{weight:>9}  {model.status}")
        lines += [f"  ! {message}" for message in clip.messages]
        lines.append("")
    return "\n".join(lines)


__all__ = ["ClipPrediction", "ModelPrediction", "Predictor", "expand_clip_paths", "format_table",
           "fuse_available", "predict_clips", "predictions_json"]
