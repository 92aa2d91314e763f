"""A clip's audio as the media stage wrote it, its quality, and whether the audio models can use it."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .settings import AudioChecks

INT16_FULL_SCALE = 32768.0


@dataclass(frozen=True)
class ClipAudio:
    clip_id: str
    samples: np.ndarray  # as stored in the wav (int16 for PCM16), mono
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


def read_clip_audio(wav_path: str | os.PathLike, clip_id: str) -> ClipAudio:
    """Read a clip's wav as stored (no rescaling, so pyAudioAnalysis sees exactly the file's samples)."""
    from scipy.io import wavfile

    sample_rate, samples = wavfile.read(wav_path)
    if samples.ndim == 2:  # the media stage writes mono; mix down anything else rather than fail
        samples = samples.mean(axis=1).astype(samples.dtype)
    return ClipAudio(clip_id=clip_id, samples=samples, sample_rate=int(sample_rate))


def samples_as_float(samples: np.ndarray) -> np.ndarray:
    """Samples as float32 in [-1, 1] (PCM16 divided by 32768; float input unchanged)."""
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float32) / np.float32(INT16_FULL_SCALE)
    return samples.astype(np.float32)


@dataclass(frozen=True)
class AudioQuality:
    duration_s: float
    rms_dbfs: float
    peak: float
    clipped_fraction: float
    dc_offset: float

    def as_attrs(self) -> dict[str, float]:
        return {f"quality_{key}": float(value) for key, value in self.__dict__.items()}


def measure_audio_quality(audio: ClipAudio) -> AudioQuality:
    """Duration, RMS level (DC removed, dBFS), peak, fraction of full-scale samples and DC offset."""
    signal = samples_as_float(audio.samples).astype(np.float64)
    if signal.size == 0:
        return AudioQuality(0.0, -math.inf, 0.0, 0.0, 0.0)
    dc_offset = float(signal.mean())
    rms = float(np.sqrt(np.mean((signal - dc_offset) ** 2)))
    full_scale = (INT16_FULL_SCALE - 1) / INT16_FULL_SCALE
    return AudioQuality(
        duration_s=audio.duration_s,
        rms_dbfs=20.0 * math.log10(rms) if rms > 0 else -math.inf,
        peak=float(np.abs(signal).max()),
        clipped_fraction=float(np.mean(np.abs(signal) >= full_scale)),
        dc_offset=dc_offset,
    )


def find_audio_problem(audio: ClipAudio, quality: AudioQuality, checks: AudioChecks) -> str | None:
    """The reason the clip is unusable for the audio models, or None. The reason names the clip."""
    clip = audio.clip_id
    if audio.samples.size == 0:
        return f"clip {clip}: no audio (0 samples)"
    if not np.all(np.isfinite(audio.samples)):
        return f"clip {clip}: audio holds NaN or inf samples"
    if quality.duration_s < checks.min_duration_s:
        return (f"clip {clip}: audio too short ({quality.duration_s * 1000:.0f} ms < "
                f"{checks.min_duration_s * 1000:.0f} ms)")
    if quality.rms_dbfs < checks.silence_dbfs:
        return f"clip {clip}: silent audio (RMS {quality.rms_dbfs:.1f} dBFS < {checks.silence_dbfs:.1f} dBFS)"
    if quality.clipped_fraction > checks.max_clipped_fraction:
        return (f"clip {clip}: clipped audio ({100 * quality.clipped_fraction:.1f} % of samples at full "
                f"scale > {100 * checks.max_clipped_fraction:.1f} %)")
    return None


def nonfinite_reason(clip_id: str, extractor: str, features: np.ndarray, names: Sequence[str]) -> str | None:
    """A quarantine reason when an extractor returned NaN or inf (names the first bad features)."""
    bad = ~np.isfinite(features)
    if not bad.any():
        return None
    bad_columns = np.flatnonzero(bad.reshape(-1, len(names)).any(axis=0))
    examples = ", ".join(names[i] for i in bad_columns[:3])
    return f"clip {clip_id}: {extractor} returned {int(bad.sum())} non-finite values (e.g. {examples})"
