"""The audio stage's per-clip HDF5 artifacts (IS10, short-term sequence, maps): written per clip and
per shard, and read back with their status."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..artifacts import STATUS_OK, STATUS_QUARANTINED, atomic_output, library_versions, set_status
from ..constants import IS10_DIM, N_SHORT_TERM_FEATURES
from ..layout import AUDIO_FEATURES, WAV
from ..padding import pad_sequence_to_min_length
from .clip_audio import find_audio_problem, measure_audio_quality, nonfinite_reason, read_clip_audio
from .is10 import extract_is10_functionals, is10_feature_names
from .maps import audio_maps_from_sequence
from .settings import AudioChecks, MapSettings, ShortTermSettings
from .shortterm import extract_short_term_features, short_term_feature_names

log = logging.getLogger(__name__)

# the three artifacts of a clip, by feature name
FEATURES: tuple[str, ...] = tuple(AUDIO_FEATURES)
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
    names = list(is10_feature_names())
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
    from ..shards import run_each_clip

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
