"""Paper 2.4: the short-term sequence as a 34 x n map, extended and cut into 34x34 audio maps."""
from __future__ import annotations

import math

import numpy as np

from ..constants import AUDIO_MAP_SIZE, AUDIO_MAP_STEP
from ..padding import pad_sequence_to_min_length
from .settings import MapSettings


def build_audio_map(sequence: np.ndarray) -> np.ndarray:
    """Paper 2.4: the [n, 34] sequence of feature vectors as a 34 x n image-like map."""
    return np.ascontiguousarray(sequence.T)


def tileable_map_width(n: int, size: int = AUDIO_MAP_SIZE, step: int = AUDIO_MAP_STEP) -> int:
    """Paper 2.4's n': the closest multiple of 17 at or above max(n, 34).

    Generalised to other settings as the smallest width >= max(n, size) that size-wide tiles with
    this step cover exactly ((n' - size) a multiple of step); with size 34, step 17 these are the same.
    """
    width = max(n, size)
    return size + math.ceil((width - size) / step) * step


def extend_audio_map(audio_map: np.ndarray, size: int = AUDIO_MAP_SIZE, step: int = AUDIO_MAP_STEP) -> np.ndarray:
    """Paper 2.4: replicate the last column of the 34 x n map n' - n times."""
    n = audio_map.shape[1]
    missing = tileable_map_width(n, size, step) - n
    if missing == 0:
        return audio_map
    return np.concatenate([audio_map, np.repeat(audio_map[:, -1:], missing, axis=1)], axis=1)


def tile_audio_map(audio_map: np.ndarray, size: int = AUDIO_MAP_SIZE, step: int = AUDIO_MAP_STEP) -> np.ndarray:
    """Paper 2.4: cut the extended 34 x n' map into 34 x 34 maps with step 17: (n' - 17)/17 maps."""
    width = audio_map.shape[1]
    if width < size or (width - size) % step:
        raise ValueError(f"map width {width} is not tileable by size {size} step {step}; extend it first")
    starts = range(0, width - size + 1, step)
    return np.stack([audio_map[:, start:start + size] for start in starts])


def audio_maps_from_sequence(sequence: np.ndarray, settings: MapSettings = MapSettings()) -> tuple[np.ndarray, int]:
    """Paper 2.4 end to end: [n, 34] sequence -> ([k, 34, size] maps, number of maps before copying)."""
    tiles = tile_audio_map(extend_audio_map(build_audio_map(sequence), settings.size, settings.step),
                           settings.size, settings.step)
    return pad_sequence_to_min_length(tiles, settings.min_maps), tiles.shape[0]
