"""The predictor: a finished run's trained models and settings loaded once, then one clip at a time
through the pipeline's own media, face and audio code, the models and the fusion."""
from __future__ import annotations

import logging
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from ..artifacts import STATUS_OK, read_status
from ..constants import FACE_TRACKS
from ..datasets import clip_id_from_stem
from ..fusion import fuse_available
from ..layout import AUDIO_FEATURES, TIMELINE, WAV, model_file
from .inputs import expand_clip_paths, fusion_weights_in, resolve_config
from .prediction import STATUS_FAILED, STATUS_PARTIAL, STATUS_UNAVAILABLE, ClipPrediction, ModelPrediction

log = logging.getLogger(__name__)

# The per-clip input each model reads (docs/artifacts.md), by the name predict gives its temp file.
MODEL_INPUT: dict[str, str] = {"vgg_lstm_a": "faces_a", "vgg_lstm_b": "faces_b", "audio_svm": "is10",
                               "audio_lstm": "shortterm", "inception_lstm": "maps"}
AUDIO_INPUTS: tuple[str, ...] = tuple(AUDIO_FEATURES)


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
        from ..models import load_trained_model, trained_model_from_weights

        # how the software that wrote the bundle differs from this one (empty for a results folder)
        self.differences: list[str] = []
        if bundle is not None:
            from ..bundle import read_bundle
            from ..config import merge_config

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
            from ..config import track_settings

            source = f"{results_dir}/fusion/weights.json"
            self.config = resolve_config(config)
            # each track's settings as the pipeline's faces jobs get them
            self.face_settings = {track: track_settings(self.config["faces"], track) for track in FACE_TRACKS}
            fusion = fusion_weights_in(results_dir)

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
        from ..media import ClipProbeError, probe_clip

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
            from ..models import predict_clip_probabilities

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
        from ..media import extract_audio, write_timeline

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
        from ..faces import extract_face_track

        out = workdir / f"faces_{track}.h5"
        try:
            extract_face_track(path, timeline_path, out, self.face_settings[track], track,
                               self.config["faces"]["queue_size"])
        except Exception as error:
            return out, f"clip {clip_id}: face track {track} failed ({type(error).__name__}: {error})"
        return out, _reason_if_quarantined(out)

    def _audio_features(self, clip_id: str, wav_path: Path, workdir: Path) -> dict[str, tuple[Path, str]]:
        from ..audio import write_audio_artifacts

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
