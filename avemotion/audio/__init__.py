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
from ..artifacts import AudioFeatures, read_audio_features
from ..padding import pad_sequence_to_min_length
from .artifacts import (
    FEATURES,
    write_audio_artifacts,
    write_audio_shard,
    write_is10_artifact,
    write_maps_artifact,
    write_shortterm_artifact,
)
from .clip_audio import (
    AudioQuality,
    ClipAudio,
    find_audio_problem,
    measure_audio_quality,
    nonfinite_reason,
    read_clip_audio,
    samples_as_float,
)
from .index import INDEX_COLUMNS, write_audio_index
from .is10 import extract_is10_functionals, is10_extractor, is10_feature_names
from .maps import audio_maps_from_sequence, build_audio_map, extend_audio_map, tile_audio_map, tileable_map_width
from .settings import AudioChecks, MapSettings, ShortTermSettings
from .shortterm import (
    extract_short_term_features,
    paper_short_term_frame_count,
    short_term_feature_names,
    short_term_frame_count,
    window_in_samples,
)

__all__ = [
    "FEATURES", "INDEX_COLUMNS", "AudioChecks", "AudioFeatures", "AudioQuality", "ClipAudio", "MapSettings",
    "ShortTermSettings", "audio_maps_from_sequence", "build_audio_map", "extend_audio_map",
    "extract_is10_functionals", "extract_short_term_features", "find_audio_problem", "is10_extractor",
    "is10_feature_names", "measure_audio_quality", "nonfinite_reason", "pad_sequence_to_min_length",
    "paper_short_term_frame_count", "read_audio_features", "read_clip_audio", "samples_as_float",
    "short_term_feature_names", "short_term_frame_count", "tile_audio_map", "tileable_map_width",
    "window_in_samples", "write_audio_artifacts", "write_audio_index", "write_audio_shard", "write_is10_artifact",
    "write_maps_artifact", "write_shortterm_artifact",
]
