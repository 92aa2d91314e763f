"""Paper 2.2: the holistic openSMILE IS10 paralinguistic functionals (1582 per clip)."""
from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from .clip_audio import ClipAudio, samples_as_float

log = logging.getLogger(__name__)


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


@lru_cache(maxsize=1)
def is10_feature_names() -> tuple[str, ...]:
    return tuple(is10_extractor().feature_names)
