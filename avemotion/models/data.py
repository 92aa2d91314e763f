"""The models' inputs as numpy arrays and torch datasets: whole per-clip artifacts of the face and
audio stages (docs/artifacts.md), FER-2013 images, and datasets that sample them for training.

Each dataset item is (input tensor, target). Datasets with random windows (`StepSeeded`) draw them
from (seed, step, index), so that a resumed run draws exactly the same windows as an uninterrupted one.
The datasets take usable clips only (`clips.training_clips`: a quarantined clip never reaches them;
it has no faces or features to draw from). Whole artifacts are read with the artifacts' own readers
(`avemotion.artifacts.read_face_stack`, `read_audio_features`); the datasets read single rows from
files they keep open.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from ..artifacts import read_audio_features
from ..constants import FER2013_IMAGE_SIZE, FER2013_LABELS, FER2013_USAGES, FRAME_GAP_UNITS
from ..padding import pad_sequence_to_min_length
from .clips import CLASS_INDEX, Clip
from .sampling import sample_face_rows, source_frame_rows, standardize_map, window_starts


def read_audio_array(path: str | Path) -> np.ndarray:
    """One clip's audio artifact as float32: IS10 [1582], short-term [n, 34] or maps [k, 34, 34]."""
    return np.asarray(read_audio_features(path).data, dtype=np.float32)


FER2013_COLUMNS: frozenset[str] = frozenset({"emotion", "pixels"})


def _check_fer2013_columns(path: str | Path, columns: Sequence[str] | None) -> None:
    missing = FER2013_COLUMNS - set(columns or [])
    if missing:
        raise ValueError(f"{path}: FER-2013 CSV lacks columns {sorted(missing)} (header: {list(columns or [])})")


def check_fer2013_header(path: str | Path) -> None:
    """Reads only the header line: raises ValueError unless it has FER-2013's columns."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        _check_fer2013_columns(path, next(csv.reader(handle), None))


def read_fer2013(path: str | Path, usages: Sequence[str] | None = ("Training",)) -> tuple[np.ndarray, np.ndarray]:
    """Paper 2.1 step 1: the standard ``fer2013.csv`` (columns ``emotion,pixels,Usage``; pixels are
    48*48 space-separated grey values), the rows whose ``Usage`` is one of `usages` (None, or a file
    without that column: every row; `models.vgg_lstm.fer2013_usages`). Returns (images uint8
    [N, 48, 48], targets in CLASSES order: FER 0 Angry 1 Disgust 2 Fear 3 Happy 4 Sad 5 Surprise
    6 Neutral -> AN DI FE HA SA SU NE)."""
    unknown = sorted(set(usages or ()) - set(FER2013_USAGES))
    if unknown:
        raise ValueError(f"FER-2013 Usage values {unknown} are none of {list(FER2013_USAGES)}")
    images, targets = [], []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        _check_fer2013_columns(path, reader.fieldnames)
        for line, row in enumerate(reader, start=2):
            if usages is not None and "Usage" in row and row["Usage"] not in usages:
                continue
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != FER2013_IMAGE_SIZE ** 2:
                raise ValueError(f"{path}:{line}: expected {FER2013_IMAGE_SIZE ** 2} pixels, got {pixels.size}")
            images.append(pixels.reshape(FER2013_IMAGE_SIZE, FER2013_IMAGE_SIZE))
            targets.append(CLASS_INDEX[FER2013_LABELS[int(row["emotion"])]])
    return np.stack(images) if images else np.zeros((0, 48, 48), np.uint8), np.array(targets, dtype=np.int64)


def frame_gap_unit(config: Mapping) -> str:
    """`models.vgg_lstm.frame_gap_unit` of a model config (the config a checkpoint holds too)."""
    unit = str(config["frame_gap_unit"])
    if unit not in FRAME_GAP_UNITS:
        raise ValueError(f"frame_gap_unit {unit!r} is none of {list(FRAME_GAP_UNITS)}")
    return unit


def gap_frame_rows(handle: h5py.File, unit: str) -> np.ndarray:
    """The face row (-1: none) of each frame `frame_gap` counts in an open face stack: its 60-fps
    `timeline` as stored (unit ``timeline``) or one row per source frame (``source``)."""
    timeline = handle["timeline"][...]
    if unit == "timeline":
        return timeline
    if "n_unique_frames" not in handle.attrs:
        raise ValueError(f"{handle.filename}: a face stack without n_unique_frames cannot count source frames")
    return source_frame_rows(timeline, handle["frame_index"][...], int(handle.attrs["n_unique_frames"]))


def clip_face_windows(path: str | Path, config: Mapping) -> np.ndarray:
    """uint8 [W, L, S, S, 3]: the `sequence_length`-face windows, `frame_gap` frames apart, that
    cover one clip's face stack (`window_starts`): what a trained VGG-LSTM averages over."""
    length, gap = int(config["sequence_length"]), int(config["frame_gap"])
    with h5py.File(path, "r") as handle:
        faces = handle["faces"][:]
        rows = gap_frame_rows(handle, frame_gap_unit(config))
    return np.stack([faces[sample_face_rows(rows, start, length, gap)]
                     for start in window_starts(rows.size, length * gap)])


class OpenFiles:
    """Keeps per-clip HDF5 files open for reading (opened lazily, so each loader worker process opens
    its own handles); re-opening a file per item would dominate a small model's step time."""

    _handles: dict | None = None

    def open(self, path: Path) -> h5py.File:
        if self._handles is None:
            self._handles = {}
        handle = self._handles.get(path)
        if handle is None:
            handle = self._handles[path] = h5py.File(path, "r")
        return handle

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handles"] = None
        return state


def read_rows(dataset: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """dataset[rows] for any rows, each needed row read once. One read per row: h5py's list index
    (a point selection) took 195 ms for 16 uncompressed 224-px faces against 1.5 ms row by row
    (benchmarks/bench_data_path.py), so a 16-face window fed a GPU a tenth of the faces it needs."""
    unique, inverse = np.unique(rows, return_inverse=True)
    return np.stack([dataset[int(row)] for row in unique])[inverse]


class StepSeeded:
    """A dataset whose random choices for item `index` come from (seed, step, index) only
    (`training.StepIndexed` sets `step` before each item)."""

    seed: int = 0
    step: int = 0

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.step, index])


class GreyImages(Dataset):
    """FER-2013 images as 3-channel uint8 [3, 48, 48] (grey replicated; the VGG resizes them)."""

    def __init__(self, images: np.ndarray, targets: np.ndarray) -> None:
        self.images = torch.from_numpy(images)
        self.targets = torch.from_numpy(targets)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        return self.images[index].unsqueeze(0).expand(3, -1, -1), self.targets[index]


@dataclass(frozen=True)
class FaceAugmentation:
    """Training-time augmentation of aligned faces (not in the paper; `models.vgg_lstm.augment_*`):
    a horizontal flip with probability 1/2 and a shift of up to `max_shift` of the face size, the
    same for every face of a sequence. Expressions are near-symmetric and the alignment leaves a few
    pixels of jitter, so neither changes the class; both keep a net trained on a few clips from
    memorising each clip's exact pixels."""

    flip: bool = False
    max_shift: float = 0.0

    @classmethod
    def from_config(cls, config: Mapping) -> "FaceAugmentation":
        return cls(bool(config["augment_flip"]), float(config["augment_max_shift"]))

    def __call__(self, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """faces uint8 [..., S, S, 3] -> the same shape, flipped and shifted alike."""
        size = faces.shape[-2]
        limit = int(round(self.max_shift * size))
        flip = self.flip and rng.random() < 0.5
        dy, dx = (rng.integers(-limit, limit + 1, size=2) if limit > 0 else (0, 0))
        if flip:
            faces = faces[..., ::-1, :]
        if dy or dx:
            faces = shift_edge(faces, int(dy), int(dx))
        return np.ascontiguousarray(faces)


def shift_edge(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift images [..., H, W, C] by (dy, dx) pixels, repeating the edge pixels into the gap."""
    height, width = images.shape[-3], images.shape[-2]
    rows = np.clip(np.arange(height) - dy, 0, height - 1)
    columns = np.clip(np.arange(width) - dx, 0, width - 1)
    return images[..., rows, :, :][..., :, columns, :]


class FaceFrames(Dataset, StepSeeded, OpenFiles):
    """Paper 2.1 step 2: single aligned faces (every unique face of every training clip)."""

    def __init__(self, clips: Sequence[Clip], seed: int = 0,
                 augmentation: FaceAugmentation = FaceAugmentation()) -> None:
        self.clips, self.seed, self.augmentation = list(clips), seed, augmentation
        self.items: list[tuple[int, int]] = []
        for clip_index, clip in enumerate(self.clips):
            with h5py.File(clip.path, "r") as handle:
                self.items += [(clip_index, row) for row in range(handle["faces"].shape[0])]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        clip_index, row = self.items[index]
        clip = self.clips[clip_index]
        face = self.augmentation(self.open(clip.path)["faces"][row], self.rng(index))
        return torch.from_numpy(face).permute(2, 0, 1), clip.target


class FaceSequences(Dataset, StepSeeded, OpenFiles):
    """Paper 2.1 step 3: `length` faces every `gap` frames of the 60-fps timeline or of the source
    (`unit`, `gap_frame_rows`), window start random per step."""

    def __init__(self, clips: Sequence[Clip], length: int, gap: int, seed: int = 0,
                 augmentation: FaceAugmentation = FaceAugmentation(), unit: str = "timeline") -> None:
        self.clips, self.length, self.gap, self.seed = list(clips), length, gap, seed
        self.augmentation, self.unit = augmentation, unit

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int):
        clip = self.clips[index]
        handle = self.open(clip.path)
        frames = gap_frame_rows(handle, self.unit)
        span = self.length * self.gap
        rng = self.rng(index)
        start = int(rng.integers(0, max(1, frames.size - span + 1)))
        rows = sample_face_rows(frames, start, self.length, self.gap)
        faces = self.augmentation(read_rows(handle["faces"], rows), rng)
        return torch.from_numpy(faces).permute(0, 3, 1, 2), clip.target


class AudioSequences(Dataset, OpenFiles):
    """Paper 2.3: standardised [n, 34] sequences (variable n; `collate_padded` pads a batch)."""

    def __init__(self, clips: Sequence[Clip], mean: np.ndarray, std: np.ndarray, min_length: int) -> None:
        self.clips, self.mean, self.std, self.min_length = list(clips), mean, std, min_length

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int):
        clip = self.clips[index]
        sequence = pad_sequence_to_min_length(np.asarray(self.open(clip.path)["features"][...], np.float32), self.min_length)
        return torch.from_numpy((sequence - self.mean) / self.std), clip.target


def collate_padded(batch):
    """Pad variable-length sequences to the batch maximum; returns ((padded, lengths), targets)."""
    sequences, targets = zip(*batch)
    lengths = torch.tensor([len(s) for s in sequences])
    padded = torch.nn.utils.rnn.pad_sequence(list(sequences), batch_first=True)
    return (padded, lengths), torch.as_tensor(targets)


class AudioMaps(Dataset, OpenFiles):
    """Paper 2.4 first step: single 34x34 maps, each labelled with its clip's emotion."""

    def __init__(self, clips: Sequence[Clip], scale: tuple[float, float]) -> None:
        self.clips, self.scale = list(clips), scale
        self.items: list[tuple[int, int]] = []
        for clip_index, clip in enumerate(self.clips):
            with h5py.File(clip.path, "r") as handle:
                self.items += [(clip_index, k) for k in range(handle["maps"].shape[0])]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        clip_index, k = self.items[index]
        clip = self.clips[clip_index]
        audio_map = np.asarray(self.open(clip.path)["maps"][k], dtype=np.float32)
        return torch.from_numpy(standardize_map(audio_map, self.scale)).unsqueeze(0), clip.target


class MapSequences(Dataset, StepSeeded, OpenFiles):
    """Paper 2.4 second step: 8 consecutive maps, window start random per step."""

    def __init__(self, clips: Sequence[Clip], scale: tuple[float, float], length: int, seed: int = 0) -> None:
        self.clips, self.scale, self.length, self.seed = list(clips), scale, length, seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int):
        clip = self.clips[index]
        maps = pad_sequence_to_min_length(np.asarray(self.open(clip.path)["maps"][...], np.float32), self.length)
        start = int(self.rng(index).integers(0, len(maps) - self.length + 1))
        window = standardize_map(maps[start:start + self.length], self.scale)
        return torch.from_numpy(window), clip.target
