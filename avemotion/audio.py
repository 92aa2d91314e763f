"""Audio stage (paper 2.2-2.4): openSMILE IS10 functionals, pyAudioAnalysis short-term sequences and
34x34 audio maps, one HDF5 artifact per clip and feature.

Input: the clip's wav from the media stage (:data:`avemotion.layout.WAV`: 16 kHz mono PCM16; 0
samples when the clip has no audio).

Frame count of the short-term features (paper 2.3 writes n = (m - 50)/50 for a clip of m ms):
pyAudioAnalysis slides a window of W samples with step S while ``start + W - 1 < N``, so
``n = floor((N - W)/S) + 1`` for N >= W and 0 otherwise. With W = 100 ms and S = 50 ms this is
``n = floor((m - 50)/50)`` for m >= 100 ms: the paper's formula rounded down (it is exact when m is a
multiple of 50). A clip shorter than one window (m < 100 ms) gives no frame at all and is quarantined.

Bad audio: DC offset is removed before openSMILE (pyAudioAnalysis removes it itself, see
``dc_normalize``), so neither extractor depends on it. Clips that are empty, shorter than
``min_duration_s``, silent (RMS below ``silence_dbfs``) or clipped (more than ``max_clipped_fraction``
of the samples at full scale), and clips for which an extractor returns NaN or inf, are written
quarantined with a reason naming the clip; their feature datasets are then empty (shape 0 on the first
axis), so no NaN and no placeholder value can reach a model.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .artifacts import (
    STATUS_OK,
    STATUS_QUARANTINED,
    atomic_output,
    library_versions,
    read_tsv,
    set_status,
    write_tsv,
)
from .constants import (
    AUDIO_MAP_SIZE,
    AUDIO_MAP_STEP,
    IS10_DIM,
    MIN_AUDIO_MAPS,
    MIN_SHORT_TERM_SEQUENCE,
    N_SHORT_TERM_FEATURES,
    SHORT_TERM_STEP_S,
    SHORT_TERM_WINDOW_S,
)

log = logging.getLogger(__name__)

FEATURES = ("is10", "shortterm", "maps")
INDEX_COLUMNS: tuple[str, ...] = (
    "clip_id", "split", "label", "status", "reason", "duration_s", "n_shortterm", "n_maps",
    "n_shortterm_raw", "n_maps_raw", "is10_status", "shortterm_status", "maps_status",
)
INT16_FULL_SCALE = 32768.0


# --------------------------------------------------------------------------------------------------
# Settings (config `audio:` block; each rule gets only the sub-blocks it uses)
# --------------------------------------------------------------------------------------------------
class _FromConfig:
    """Settings dataclasses built from their config block, values coerced to the field types."""

    @classmethod
    def from_config(cls, block: Mapping[str, object]):
        return cls(**{key: _field_type(cls, key)(value) for key, value in block.items()})


@dataclass(frozen=True)
class AudioChecks(_FromConfig):
    """Limits that decide whether a clip's audio is usable (config ``audio.checks``)."""

    min_duration_s: float = SHORT_TERM_WINDOW_S
    silence_dbfs: float = -60.0
    max_clipped_fraction: float = 0.05


@dataclass(frozen=True)
class ShortTermSettings(_FromConfig):
    """Paper 2.3 (config ``audio.shortterm``): window, step and minimum sequence length."""

    window_s: float = SHORT_TERM_WINDOW_S
    step_s: float = SHORT_TERM_STEP_S
    min_sequence_length: int = MIN_SHORT_TERM_SEQUENCE


@dataclass(frozen=True)
class MapSettings(_FromConfig):
    """Paper 2.4 (config ``audio.maps``): map width, tiling step and minimum number of maps."""

    size: int = AUDIO_MAP_SIZE
    step: int = AUDIO_MAP_STEP
    min_maps: int = MIN_AUDIO_MAPS


def _field_type(settings_class, key: str):
    """The int/float type of a settings field (a value given on the command line may be a string)."""
    fields = {field.name: field for field in dataclasses.fields(settings_class)}
    if key not in fields:
        raise ValueError(f"unknown {settings_class.__name__} setting {key!r}")
    return {"int": int, "float": float}[fields[key].type]


# --------------------------------------------------------------------------------------------------
# Reading and checking the audio
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# Paper 2.2: holistic openSMILE IS10 functionals
# --------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def is10_extractor():
    """The openSMILE IS10 paralinguistic functionals extractor (built once per process)."""
    import opensmile

    return opensmile.Smile(opensmile.FeatureSet.IS10, opensmile.FeatureLevel.Functionals)


def extract_is10_functionals(audio: ClipAudio) -> tuple[np.ndarray, list[str]]:
    """Paper 2.2: the 1582 IS10 functionals of the clip, float32, DC offset removed first."""
    import warnings

    smile = is10_extractor()
    signal = samples_as_float(audio.samples)
    signal = signal - signal.mean(dtype=np.float64).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:  # "Segment too short": NaNs, handled below
        warnings.simplefilter("always")
        table = smile.process_signal(signal, audio.sample_rate)
    for warning in caught:
        log.warning("clip %s: openSMILE: %s", audio.clip_id, warning.message)
    features = table.to_numpy(dtype=np.float32).reshape(-1)
    return features, list(smile.feature_names)


# --------------------------------------------------------------------------------------------------
# Paper 2.3: short-term feature sequences
# --------------------------------------------------------------------------------------------------
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


def pad_sequence_to_min_length(sequence: np.ndarray, min_length: int = MIN_SHORT_TERM_SEQUENCE) -> np.ndarray:
    """Paper 2.3 and 2.4: copy the last element (a feature vector [d], or a 34x34 map) until the
    sequence has ``min_length`` elements: 16 - n vectors for a short-term sequence [n, d], 8 - k maps
    for [k, 34, 34] maps. A sequence at least that long is returned as it is."""
    n = sequence.shape[0]
    if n == 0:
        raise ValueError("cannot pad an empty sequence")
    if n >= min_length:
        return sequence
    return np.concatenate([sequence, np.repeat(sequence[-1:], min_length - n, axis=0)], axis=0)


# --------------------------------------------------------------------------------------------------
# Paper 2.4: audio maps
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# Artifacts
# --------------------------------------------------------------------------------------------------
# the libraries the features depend on (each artifact's ``versions`` attr)
AUDIO_LIBRARIES: tuple[str, ...] = ("opensmile", "pyAudioAnalysis", "numpy", "scipy")


def _write_h5(path: str | os.PathLike, datasets: Mapping[str, np.ndarray], attrs: Mapping[str, object],
              status: str, reason: str) -> None:
    import h5py

    with atomic_output(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as handle:
            for name, value in datasets.items():
                if value.dtype.kind in "OU":  # fixed-length UTF-8: a third cheaper to write than vlen
                    encoded = [str(text).encode("utf-8") for text in value]
                    width = max((len(text) for text in encoded), default=1)
                    handle.create_dataset(name, data=np.array(encoded, dtype=f"S{width}").astype(
                        h5py.string_dtype("utf-8", width)))
                else:
                    handle.create_dataset(name, data=value)
            for key, value in attrs.items():
                handle.attrs[key] = value
            handle.attrs["versions"] = library_versions(AUDIO_LIBRARIES)
            set_status(handle, status, reason)
    if status == STATUS_OK:
        log.info("wrote %s", path)
    else:
        log.warning("wrote %s quarantined: %s", path, reason)


def write_is10_artifact(wav_path: str | os.PathLike, output_path: str | os.PathLike, clip_id: str,
                        checks: AudioChecks) -> str:
    """Write a clip's IS10 artifact (paper 2.2; :data:`avemotion.layout.IS10`); returns its status."""
    audio = read_clip_audio(wav_path, clip_id)
    quality = measure_audio_quality(audio)
    reason = find_audio_problem(audio, quality, checks)
    features = np.zeros(0, dtype=np.float32)
    names = list(_is10_names())
    if reason is None:
        extracted, names = extract_is10_functionals(audio)
        reason = nonfinite_reason(clip_id, "openSMILE IS10", extracted, names)
        if reason is None and extracted.shape != (IS10_DIM,):
            reason = f"clip {clip_id}: openSMILE IS10 returned {extracted.size} values, not {IS10_DIM}"
        if reason is None:
            features = extracted
    status = STATUS_OK if reason is None else STATUS_QUARANTINED
    _write_h5(output_path, {"features": features, "names": np.array(names, dtype=object)},
              {"clip_id": clip_id, "feature_set": "IS10", "feature_level": "Functionals",
               "sample_rate": audio.sample_rate, "duration_s": audio.duration_s, **quality.as_attrs()},
              status, reason or "")
    return status


@lru_cache(maxsize=1)
def _is10_names() -> tuple[str, ...]:
    return tuple(is10_extractor().feature_names)


def write_shortterm_artifact(wav_path: str | os.PathLike, output_path: str | os.PathLike, clip_id: str,
                             checks: AudioChecks, settings: ShortTermSettings) -> str:
    """Write a clip's short-term artifact (paper 2.3; :data:`avemotion.layout.SHORTTERM`): [n', 34]
    with n' >= 16; returns its status."""
    audio = read_clip_audio(wav_path, clip_id)
    quality = measure_audio_quality(audio)
    reason = find_audio_problem(audio, quality, checks)
    names = short_term_feature_names()
    features = np.zeros((0, N_SHORT_TERM_FEATURES), dtype=np.float32)
    n_raw = 0
    if reason is None:
        sequence, names = extract_short_term_features(audio, settings)
        n_raw = sequence.shape[0]
        if n_raw == 0:
            reason = (f"clip {clip_id}: audio ({audio.duration_s * 1000:.0f} ms) shorter than one "
                      f"{settings.window_s * 1000:.0f} ms short-term window")
        else:
            reason = nonfinite_reason(clip_id, "pyAudioAnalysis short-term features", sequence, names)
        if reason is None:
            features = pad_sequence_to_min_length(sequence, settings.min_sequence_length).astype(np.float32)
            reason = nonfinite_reason(clip_id, "float32 short-term features", features, names)
            if reason is not None:
                features = np.zeros((0, N_SHORT_TERM_FEATURES), dtype=np.float32)
    status = STATUS_OK if reason is None else STATUS_QUARANTINED
    _write_h5(output_path, {"features": features, "names": np.array(names, dtype=object)},
              {"clip_id": clip_id, "n_frames_raw": n_raw, "window_s": settings.window_s,
               "step_s": settings.step_s, "min_sequence_length": settings.min_sequence_length,
               "sample_rate": audio.sample_rate, "duration_s": audio.duration_s, **quality.as_attrs()},
              status, reason or "")
    return status


def write_maps_artifact(shortterm_path: str | os.PathLike, output_path: str | os.PathLike, clip_id: str,
                        settings: MapSettings) -> str:
    """Write a clip's maps artifact (paper 2.4; :data:`avemotion.layout.MAPS`) from the (padded)
    short-term sequence; returns its status."""
    import h5py

    with h5py.File(shortterm_path, "r") as handle:
        sequence = handle["features"][()]
        status = str(handle.attrs["status"])
        reason = str(handle.attrs["reason"])
        duration_s = float(handle.attrs["duration_s"])
    maps = np.zeros((0, N_SHORT_TERM_FEATURES, settings.size), dtype=np.float32)
    n_maps_raw = 0
    if status == STATUS_OK:
        tiled, n_maps_raw = audio_maps_from_sequence(sequence, settings)
        reason = nonfinite_reason(clip_id, "audio maps", np.moveaxis(tiled, 1, -1), short_term_feature_names()) or ""
        if reason:
            status, n_maps_raw = STATUS_QUARANTINED, 0
        else:
            maps = tiled.astype(np.float32)
    _write_h5(output_path, {"maps": maps},
              {"clip_id": clip_id, "n_maps_raw": n_maps_raw, "n_sequence": sequence.shape[0],
               "size": settings.size, "step": settings.step, "min_maps": settings.min_maps,
               "duration_s": duration_s},
              status, reason)
    return status


def write_audio_artifacts(wav_path: str | os.PathLike, outputs: Mapping[str, str | os.PathLike], clip_id: str,
                          settings: Mapping[str, Mapping]) -> None:
    """One clip's audio stage: its IS10 functionals (2.2), short-term sequence (2.3) and audio maps
    (2.4), written to ``outputs["is10"]``, ``["shortterm"]`` and ``["maps"]``. ``settings``: the
    config's ``audio:`` block (its ``checks``, ``shortterm`` and ``maps``)."""
    checks = AudioChecks.from_config(settings["checks"])
    write_is10_artifact(wav_path, outputs["is10"], clip_id, checks)
    write_shortterm_artifact(wav_path, outputs["shortterm"], clip_id, checks,
                             ShortTermSettings.from_config(settings["shortterm"]))
    write_maps_artifact(outputs["shortterm"], outputs["maps"], clip_id, MapSettings.from_config(settings["maps"]))


def write_audio_shard(clip_ids: Sequence[str], wav_dir: str | os.PathLike, out_dirs: Mapping[str, str | os.PathLike],
                      settings: Mapping[str, Mapping], table_path: str | os.PathLike) -> dict[str, str]:
    """Rule ``audio_features``: :func:`write_audio_artifacts` for every clip of one shard, reading
    each clip's wav in the media shard's folder ``wav_dir`` and writing its three artifacts into
    ``out_dirs["is10"]``, ``["shortterm"]`` and ``["maps"]`` (:data:`avemotion.layout.AUDIO_FEATURES`).
    A clip whose extraction raises gets all three written quarantined with the reason; returns
    {clip_id: reason} of those. Last, the shard table ``table_path``."""
    from .layout import AUDIO_FEATURES, WAV
    from .shards import run_each_clip

    folders = {feature: Path(out_dirs[feature]) for feature in FEATURES}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    map_size = MapSettings.from_config(settings["maps"]).size

    def process(clip_id: str) -> None:
        write_audio_artifacts(WAV.in_folder(wav_dir, clip_id),
                              {feature: AUDIO_FEATURES[feature].in_folder(folder, clip_id)
                               for feature, folder in folders.items()},
                              clip_id, settings)

    def quarantine(clip_id: str, failure: str) -> None:
        empty = {"is10": {"features": np.zeros(0, dtype=np.float32)},
                 "shortterm": {"features": np.zeros((0, N_SHORT_TERM_FEATURES), dtype=np.float32)},
                 "maps": {"maps": np.zeros((0, N_SHORT_TERM_FEATURES, map_size), dtype=np.float32)}}
        attrs = {"clip_id": clip_id, "duration_s": 0.0, "n_frames_raw": 0, "n_maps_raw": 0}
        for feature, folder in folders.items():
            _write_h5(AUDIO_FEATURES[feature].in_folder(folder, clip_id), empty[feature], attrs, STATUS_QUARANTINED,
                      f"clip {clip_id}: {failure}")

    return run_each_clip(list(clip_ids), "audio features", process, quarantine, table_path)


def _artifact_summary(path: str | os.PathLike) -> dict[str, object]:
    import h5py

    with h5py.File(path, "r") as handle:
        data = handle["maps"] if "maps" in handle else handle["features"]
        return {"status": str(handle.attrs["status"]), "reason": str(handle.attrs["reason"]),
                "rows": int(data.shape[0]), "attrs": dict(handle.attrs)}


def write_audio_index(manifest_path: str | os.PathLike, artifact_paths: Mapping[str, Mapping[str, str]],
                      output_path: str | os.PathLike) -> None:
    """Write ``results/audio/index.tsv``: one row per manifest clip, quarantined if any feature is.

    ``artifact_paths``: for each of FEATURES, {clip_id: its h5 artifact}.
    """
    by_clip: dict[str, dict[str, dict[str, object]]] = {}
    for feature in FEATURES:
        for clip_id, path in artifact_paths[feature].items():
            by_clip.setdefault(clip_id, {})[feature] = _artifact_summary(path)
    rows = []
    for clip in read_tsv(manifest_path):
        clip_id = clip["clip_id"]
        summaries = by_clip.get(clip_id, {})
        missing = [f for f in FEATURES if f not in summaries]
        if missing:
            raise ValueError(f"clip {clip_id}: no audio artifact for {', '.join(missing)}")
        reasons = []
        for feature in FEATURES:
            reason = summaries[feature]["reason"]
            if summaries[feature]["status"] != STATUS_OK and reason not in reasons:
                reasons.append(reason)
        shortterm = summaries["shortterm"]
        maps = summaries["maps"]
        rows.append({
            "clip_id": clip_id, "split": clip["split"], "label": clip["label"],
            "status": STATUS_QUARANTINED if reasons else STATUS_OK,
            "reason": "; ".join(reasons),
            "duration_s": round(float(shortterm["attrs"]["duration_s"]), 4),
            "n_shortterm": shortterm["rows"], "n_maps": maps["rows"],
            "n_shortterm_raw": int(shortterm["attrs"]["n_frames_raw"]),
            "n_maps_raw": int(maps["attrs"]["n_maps_raw"]),
            **{f"{feature}_status": summaries[feature]["status"] for feature in FEATURES},
        })
    write_tsv(output_path, INDEX_COLUMNS, rows)
    log.info("audio index: %d clips, %d quarantined", len(rows), sum(r["status"] != STATUS_OK for r in rows))


# --------------------------------------------------------------------------------------------------
# Readers for the model stages
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioFeatures:
    clip_id: str
    status: str
    reason: str
    data: np.ndarray  # is10 [1582], shortterm [n, 34] or maps [k, 34, 34]; empty when quarantined

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


def read_audio_features(path: str | os.PathLike) -> AudioFeatures:
    """Read any of the three audio artifacts (``features`` or ``maps``) with its status."""
    import h5py

    with h5py.File(path, "r") as handle:
        data = handle["maps"][()] if "maps" in handle else handle["features"][()]
        return AudioFeatures(clip_id=str(handle.attrs.get("clip_id", Path(path).stem)),
                             status=str(handle.attrs["status"]), reason=str(handle.attrs["reason"]),
                             data=data)
