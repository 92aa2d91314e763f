"""Small synthetic inputs in exactly the face/audio stage layouts (docs/artifacts.md), for the
models' tests and benchmarks: a class-dependent signal plus noise, so that a model can learn it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from avemotion.artifacts import MANIFEST_COLUMNS, set_status, write_tsv
from avemotion.constants import AUDIO_MAP_SIZE, CLASSES, IS10_DIM, N_SHORT_TERM_FEATURES


@dataclass
class SyntheticCorpus:
    """A written corpus: its manifest and, per artifact kind, the files as {clip_id: path}."""

    manifest: Path
    faces: dict[str, Path] = field(default_factory=dict)
    is10: dict[str, Path] = field(default_factory=dict)
    shortterm: dict[str, Path] = field(default_factory=dict)
    maps: dict[str, Path] = field(default_factory=dict)


# Model settings for train_five_models: small nets and two steps a stage, enough to exercise every
# stage's code (tests that need a model that learned train longer)
TINY_MODELS = {
    "vgg_lstm": {"width_multiplier": 0.125, "input_size": 32, "frame_iterations": 2, "sequence_iterations": 2,
                 "frame_batch_size": 8, "sequence_batch_size": 2},
    "audio_lstm": {"iterations": 2, "hidden": 16},
    "inception_lstm": {"width_multiplier": 0.0625, "map_iterations": 2, "sequence_iterations": 2, "batch_size": 4,
                       "sequence_batch_size": 2, "lr_step_iterations": 1},
}


def write_corpus(root: str | Path, per_class: dict[str, int] | None = None, face_size: int = 32,
                 n_timeline: int = 150, seed: int = 0, quarantine: tuple[str, ...] = ()) -> SyntheticCorpus:
    """Write manifest.tsv, faces/a, audio/{is10,shortterm,maps} under `root`: `per_class` clips of
    each class per split. `quarantine`: clip ids whose artifacts are written with status "quarantined"."""
    root = Path(root)
    per_class = per_class or {"train": 4, "val": 2, "test": 2}
    rng = np.random.default_rng(seed)
    rows = []
    corpus = SyntheticCorpus(root / "manifest.tsv")
    for split, count in per_class.items():
        for class_index, label in enumerate(CLASSES):
            for k in range(count):
                clip_id = f"{split}_{label}_{k:02d}"
                rows.append({"clip_id": clip_id, "split": split, "label": label, "path": f"{clip_id}.mp4",
                             "dataset": "synthetic", "duration_s": n_timeline / 60, "fps": 30.0,
                             "n_frames": n_timeline // 2, "width": 64, "height": 64, "has_audio": True})
                status = ("quarantined", f"{clip_id}: synthetic quarantine") if clip_id in quarantine else ("ok", "")
                corpus.faces[clip_id] = _write_faces(root / "faces" / "a" / f"{clip_id}.h5", class_index, face_size,
                                                     n_timeline, rng, status)
                corpus.is10[clip_id] = _write_array(root / "audio" / "is10" / f"{clip_id}.h5", "features",
                                                    _signal((IS10_DIM,), class_index, rng), status)
                n = int(rng.integers(12, 40))
                corpus.shortterm[clip_id] = _write_array(root / "audio" / "shortterm" / f"{clip_id}.h5", "features",
                                                         _signal((n, N_SHORT_TERM_FEATURES), class_index, rng), status)
                maps = _signal((int(rng.integers(8, 12)), AUDIO_MAP_SIZE, AUDIO_MAP_SIZE), class_index, rng)
                corpus.maps[clip_id] = _write_array(root / "audio" / "maps" / f"{clip_id}.h5", "maps", maps, status)
    write_tsv(corpus.manifest, MANIFEST_COLUMNS, rows)
    return corpus


def _signal(shape: tuple[int, ...], class_index: int, rng: np.random.Generator) -> np.ndarray:
    """Noise whose last-axis mean pattern depends on the class."""
    pattern = np.sin(np.arange(shape[-1]) * (class_index + 1) * 0.37) * 1.5
    return (rng.normal(size=shape) + pattern).astype(np.float32)


def _write_faces(path: Path, class_index: int, size: int, n_timeline: int, rng: np.random.Generator,
                 status: tuple[str, str]) -> Path:
    n_unique = n_timeline // 2
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = class_index * np.pi / len(CLASSES)
    base = 0.5 + 0.5 * np.sin(8 * (np.cos(angle) * xx + np.sin(angle) * yy))
    colour = np.array([1.0, 0.5 + 0.07 * class_index, 1.0 - 0.1 * class_index])
    faces = base[None, :, :, None] * colour * 200 + rng.normal(0, 25, size=(n_unique, size, size, 3))
    faces = faces.clip(0, 255).astype(np.uint8)
    timeline = np.repeat(np.arange(n_unique, dtype=np.int32), 2)[:n_timeline]
    timeline[rng.random(n_timeline) < 0.1] = -1  # frames without a detected face
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle["faces"] = faces
        handle["frame_index"] = np.arange(n_unique, dtype=np.int32)
        handle["timeline"] = timeline
        set_status(handle, *status)
    return path


def _write_array(path: Path, key: str, values: np.ndarray, status: tuple[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle[key] = values
        handle.attrs["clip_id"] = path.stem
        set_status(handle, *status)
    return path


def train_five_models(corpus: SyntheticCorpus, results: Path, model_settings: dict[str, dict],
                      weights: dict[str, float]) -> Path:
    """A results folder laid out like the pipeline's: the five models trained on `corpus` with
    config.yaml's `models:` block updated by `model_settings` (small nets, few steps), their
    predictions, and `fusion/weights.json` with `weights`. The corpus has one face track, so track
    B's model is a copy of track A's (the demo run's tests check track B's own)."""
    import json
    import shutil

    from avemotion.config import load_config
    from avemotion.models import train_audio_lstm, train_audio_svm, train_inception_lstm, train_vgg_lstm
    from conftest import model_outputs

    config = load_config()["models"]
    for name, values in model_settings.items():
        config[name].update(values)
    training = config["training"]
    train_vgg_lstm(corpus.manifest, corpus.faces, model_outputs(results, "vgg_lstm_a"), config["vgg_lstm"], training,
                   name="vgg_lstm_a")
    shutil.copytree(results / "models" / "vgg_lstm_a", results / "models" / "vgg_lstm_b")
    train_audio_lstm(corpus.manifest, corpus.shortterm, model_outputs(results, "audio_lstm"), config["audio_lstm"],
                     training)
    train_inception_lstm(corpus.manifest, corpus.maps, model_outputs(results, "inception_lstm"),
                         config["inception_lstm"], training)
    train_audio_svm(corpus.manifest, corpus.is10, model_outputs(results, "audio_svm"),
                    config["audio_svm"], training)
    (results / "fusion").mkdir(parents=True, exist_ok=True)
    (results / "fusion" / "weights.json").write_text(json.dumps(
        {"models": list(weights), "weights": weights, "grid_step": 0.05, "refit": False}))
    return results
