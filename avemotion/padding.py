"""Paper 2.3 and 2.4: a sequence shorter than a minimum is padded by copying its last element; used by
the audio stage (16 short-term vectors, 8 audio maps) and by the models' input windows."""
from __future__ import annotations

import numpy as np


def pad_sequence_to_min_length(sequence: np.ndarray, min_length: int) -> np.ndarray:
    """Copy the last element (a feature vector [d], a 34x34 map, ...) until the sequence has
    ``min_length`` elements: 16 - n vectors for a short-term sequence [n, d], 8 - k maps for maps
    [k, 34, 34]. A sequence at least that long is returned as it is; an empty one cannot be padded."""
    n = sequence.shape[0]
    if n == 0:
        raise ValueError("cannot pad an empty sequence")
    if n >= min_length:
        return sequence
    return np.concatenate([sequence, np.repeat(sequence[-1:], min_length - n, axis=0)], axis=0)
