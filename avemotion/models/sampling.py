"""What a model takes of one clip (paper 2.1, 2.3, 2.4), each rule defined here once and tested:

- VGG-LSTM: 16 faces taken every 8th frame (`sample_face_rows`), counted on the 60-fps timeline
  (`frame_gap_unit: timeline`) or on the clip's own source frames (`source`: `source_frame_rows`); a
  frame without a face (-1) takes the face nearest in time (the earlier on a tie); a clip shorter
  than 16 x 8 frames repeats its last sampled face.
- audio LSTM: the whole standardised [n, 34] sequence (n >= 16 from the audio stage; padded here
  again by repeating the last vector if a shorter one arrives).
- Inception-LSTM: 8 consecutive 34x34 maps (the last map repeated when a clip has fewer).

Training draws a random window start per step; evaluation averages the class probabilities over
non-overlapping windows that cover the whole clip (`window_starts`). Audio inputs are standardised
with the training clips' statistics (`feature_statistics`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


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


def source_frame_rows(timeline: np.ndarray, frame_index: np.ndarray, n_source_frames: int) -> np.ndarray:
    """The face row (-1: no face) of each source frame a face stack's 60-fps timeline shows, in order.

    `frame_index` is the source frame of each face row, `n_source_frames` how many distinct source
    frames the timeline shows. A source of up to 60 fps shows each of its frames 0 .. n-1 (repeated
    across timeline frames); one of 60 fps or more shows a different frame at every timeline frame,
    and those are the only ones decoded, so its rows are the timeline's own.
    """
    timeline = np.asarray(timeline, dtype=np.int64)
    if n_source_frames >= timeline.size:
        return timeline
    frame_index = np.asarray(frame_index, dtype=np.int64)
    if frame_index.size and (frame_index.min() < 0 or frame_index.max() >= n_source_frames):
        raise ValueError(f"face rows name source frames outside 0..{n_source_frames - 1}")
    rows = np.full(n_source_frames, -1, dtype=np.int64)
    rows[frame_index] = np.arange(frame_index.size)
    return rows


def sample_face_rows(timeline: np.ndarray, start: int, length: int, gap: int) -> np.ndarray:
    """Paper 2.1: face rows at frames start, start+gap, ..., (length of them) of `timeline`, the face
    row of each frame the gap counts (the 60-fps timeline, or `source_frame_rows`).

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


def feature_statistics(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over axis 0 of the concatenated training arrays (std floored at 1e-6)."""
    stacked = np.concatenate([a.reshape(-1, a.shape[-1]) for a in arrays])
    return stacked.mean(axis=0).astype(np.float32), np.maximum(stacked.std(axis=0), 1e-6).astype(np.float32)


def standardize_map(maps: np.ndarray, scale: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Maps are standardised per feature row (34 rows = the 34 short-term features) with train stats."""
    mean, std = scale
    return ((maps - mean) / std).astype(np.float32)
