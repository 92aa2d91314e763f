"""Paper 2.3: pyAudioAnalysis short-term feature sequences (34 features, 100-ms window, 50-ms step),
padded to at least 16 vectors."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..constants import N_SHORT_TERM_FEATURES
from .clip_audio import ClipAudio
from .settings import ShortTermSettings


def window_in_samples(settings: ShortTermSettings, sample_rate: int) -> tuple[int, int]:
    """Window and step in samples, as the paper's pyAudioAnalysis call computes them."""
    return int(settings.window_s * sample_rate), int(settings.step_s * sample_rate)


def short_term_frame_count(n_samples: int, window: int, step: int) -> int:
    """Frames pyAudioAnalysis produces: floor((N - W)/S) + 1 when N >= W, else 0."""
    return 0 if n_samples < window else (n_samples - window) // step + 1


def paper_short_term_frame_count(duration_ms: float, settings: ShortTermSettings = ShortTermSettings()) -> float:
    """Paper 2.3's n = (m - 50)/50 for a clip of m ms, i.e. (m - (window - step))/step (not rounded;
    the library gives floor of it, and 0 below one window)."""
    window_ms, step_ms = 1000.0 * settings.window_s, 1000.0 * settings.step_s
    return (duration_ms - (window_ms - step_ms)) / step_ms


def extract_short_term_features(audio: ClipAudio, settings: ShortTermSettings) -> tuple[np.ndarray, list[str]]:
    """Paper 2.3: the 34 pyAudioAnalysis short-term features (deltas off), time-major [n, 34].

    Exactly ``ShortTermFeatures.feature_extraction(x, fs, int(0.1*fs), int(0.05*fs), deltas=False)`` on
    the wav's samples, transposed. Returns [0, 34] when the clip is shorter than one window.
    """
    from pyAudioAnalysis import ShortTermFeatures

    window, step = window_in_samples(settings, audio.sample_rate)
    if short_term_frame_count(len(audio.samples), window, step) == 0:
        return np.zeros((0, N_SHORT_TERM_FEATURES)), short_term_feature_names()
    features, names = ShortTermFeatures.feature_extraction(
        audio.samples, audio.sample_rate, window, step, deltas=False
    )
    return features.T, list(names)


@lru_cache(maxsize=1)
def _short_term_names() -> tuple[str, ...]:
    from pyAudioAnalysis import ShortTermFeatures

    _, names = ShortTermFeatures.feature_extraction(np.zeros(3200), 16000, 1600, 800, deltas=False)
    return tuple(names)


def short_term_feature_names() -> list[str]:
    """The 34 feature names pyAudioAnalysis gives (zcr, energy, ..., mfcc_1..13, chroma_1..12, chroma_std)."""
    return list(_short_term_names())
