"""Model inputs: which clips train and evaluate, per-clip sampling, and torch datasets over the
per-clip HDF5 artifacts of the face and audio stages (README, "Artifacts").

Sampling rules (paper 2.1, 2.3, 2.4), each defined here once and tested:
- VGG-LSTM: 16 faces taken every 8th frame of the 60-fps timeline (`sample_face_rows`); a timeline
  frame without a face (-1) takes the face nearest in time (the earlier on a tie); a clip shorter
  than 16 x 8 frames repeats its last sampled face.
- audio LSTM: the whole standardised [n, 34] sequence (n >= 16 from the audio stage; padded here
  again by repeating the last vector if a shorter one arrives).
- Inception-LSTM: 8 consecutive 34x34 maps (the last map repeated when a clip has fewer).
Training draws a random window start per step; evaluation averages the class probabilities over
non-overlapping windows that cover the whole clip (`window_starts`).
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

from ..artifacts import STATUS_OK, STATUS_QUARANTINED, read_manifest
from ..constants import CLASSES, FER2013_IMAGE_SIZE, FER2013_LABELS

CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}


@dataclass(frozen=True)
class Clip:
    """One manifest row as the models see it: where its input is and whether it can be used."""

    clip_id: str
    split: str
    label: str  # "" for unlabelled test clips
    path: Path | None
    status: str
    reason: str

    @property
    def target(self) -> int:
        return CLASS_INDEX[self.label] if self.label else -1


def load_clips(manifest_path: str | Path, clip_files: Mapping[str, str | Path], modality: str) -> list[Clip]:
    """Every manifest clip with its per-clip artifact for `modality` and that artifact's status.

    A clip without an artifact (e.g. no audio stream) or with a quarantined one is kept, marked
    quarantined with a reason that names the clip: it is excluded from training and gets uniform
    probabilities in the predictions.
    """
    clips = []
    for row in read_manifest(manifest_path):
        clip_id = row["clip_id"]
        path = clip_files.get(clip_id)
        if path is None:
            status, reason = STATUS_QUARANTINED, f"{clip_id}: no {modality} artifact (has_audio={row.get('has_audio', '')})"
        else:
            with h5py.File(path, "r") as handle:
                status = str(handle.attrs.get("status", STATUS_OK))
                reason = str(handle.attrs.get("reason", ""))
            if status != STATUS_OK:
                reason = f"{clip_id}: {modality} quarantined: {reason}"
        clips.append(Clip(clip_id, row["split"], row.get("label", "") or "", Path(path) if path else None, status, reason))
    return clips


def training_clips(clips: Sequence[Clip], train_splits: Sequence[str]) -> list[Clip]:
    """Labelled, usable clips of the training splits (quarantined clips never train)."""
    return [c for c in clips if c.split in train_splits and c.status == STATUS_OK and c.label]


def files_by_clip(paths: Sequence[str | Path]) -> dict[str, Path]:
    """{clip_id: path} for per-clip artifacts named `{clip_id}.h5`."""
    return {Path(p).name[: -len(".h5")]: Path(p) for p in paths}


# ---------------------------------------------------------------- sampling

def nearest_face_rows(timeline: np.ndarray) -> np.ndarray:
    """Replace each -1 of a timeline (no face at that 60-fps frame) by the face row nearest in time
    (the earlier one on a tie). Raises if the clip has no face at all."""
    timeline = np.asarray(timeline, dtype=np.int64)
    valid = np.flatnonzero(timeline >= 0)
    if valid.size == 0:
        raise ValueError("timeline has no face")
    positions = np.arange(timeline.size)
    right = np.searchsorted(valid, positions).clip(0, valid.size - 1)
    left = (right - 1).clip(0, valid.size - 1)
    use_left = np.abs(positions - valid[left]) <= np.abs(valid[right] - positions)
    nearest = np.where(use_left, valid[left], valid[right])
    return timeline[nearest]


def sample_face_rows(timeline: np.ndarray, start: int, length: int, gap: int) -> np.ndarray:
    """Paper 2.1: face rows at timeline frames start, start+gap, ..., (length of them).

    Frames past the end of the clip repeat the last frame's face (padding for short clips); frames
    without a face take the nearest face in time.
    """
    filled = nearest_face_rows(timeline)
    frames = start + gap * np.arange(length)
    return filled[np.minimum(frames, filled.size - 1)]


def window_starts(n_positions: int, span: int) -> list[int]:
    """Starts of non-overlapping windows of `span` positions covering [0, n_positions); the last
    window is aligned to the end. A clip shorter than one window has the single start 0."""
    if n_positions <= span:
        return [0]
    starts = list(range(0, n_positions - span + 1, span))
    if starts[-1] + span < n_positions:
        starts.append(n_positions - span)
    return starts


def pad_to_min_length(sequence: np.ndarray, minimum: int) -> np.ndarray:
    """Paper 2.3/2.4: copy the last element until the sequence has `minimum` elements."""
    if len(sequence) >= minimum:
        return sequence
    if len(sequence) == 0:
        raise ValueError("empty sequence")
    return np.concatenate([sequence, np.repeat(sequence[-1:], minimum - len(sequence), axis=0)])


# ---------------------------------------------------------------- readers

def read_faces(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(faces uint8 [U, S, S, 3], timeline int [T]) of one clip."""
    with h5py.File(path, "r") as handle:
        return handle["faces"][...], handle["timeline"][...]


def read_audio_array(path: Path, key: str) -> np.ndarray:
    with h5py.File(path, "r") as handle:
        return np.asarray(handle[key][...], dtype=np.float32)


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
    48*48 space-separated grey values). Returns (images uint8 [N, 48, 48], targets in CLASSES order:
    FER 0 Angry 1 Disgust 2 Fear 3 Happy 4 Sad 5 Surprise 6 Neutral -> AN DI FE HA SA SU NE)."""
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


# ---------------------------------------------------------------- datasets
# Each dataset item is (input tensor, target). `set_step` fixes the random window of every item of
# the next batch from (seed, step, index), so that a resumed run draws exactly the same windows.

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
    """dataset[rows] for any rows (h5py wants increasing unique indices): read each needed row once."""
    unique, inverse = np.unique(rows, return_inverse=True)
    return dataset[unique.tolist()][inverse]


class StepSeeded:
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

    def __init__(self, clips: Sequence[Clip], seed: int = 0, augmentation: FaceAugmentation = FaceAugmentation()) -> None:
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
    """Paper 2.1 step 3: 16 faces every 8th timeline frame, window start random per step."""

    def __init__(self, clips: Sequence[Clip], length: int, gap: int, seed: int = 0,
                 augmentation: FaceAugmentation = FaceAugmentation()) -> None:
        self.clips, self.length, self.gap, self.seed = list(clips), length, gap, seed
        self.augmentation = augmentation

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int):
        clip = self.clips[index]
        handle = self.open(clip.path)
        timeline = handle["timeline"][...]
        span = self.length * self.gap
        rng = self.rng(index)
        start = int(rng.integers(0, max(1, timeline.size - span + 1)))
        rows = sample_face_rows(timeline, start, self.length, self.gap)
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
        sequence = pad_to_min_length(np.asarray(self.open(clip.path)["features"][...], np.float32), self.min_length)
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
        maps = pad_to_min_length(np.asarray(self.open(clip.path)["maps"][...], np.float32), self.length)
        start = int(self.rng(index).integers(0, len(maps) - self.length + 1))
        window = standardize_map(maps[start:start + self.length], self.scale)
        return torch.from_numpy(window), clip.target


def standardize_map(maps: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Maps are standardised per feature row (34 rows = the 34 short-term features) with train stats."""
    mean, std = scale
    return ((maps - mean) / std).astype(np.float32)


def feature_statistics(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over axis 0 of the concatenated training arrays (std floored at 1e-6)."""
    stacked = np.concatenate([a.reshape(-1, a.shape[-1]) for a in arrays])
    return stacked.mean(axis=0).astype(np.float32), np.maximum(stacked.std(axis=0), 1e-6).astype(np.float32)
