"""Accuracy, unweighted average recall and confusion matrices (paper section 3.2, Tables 1-6).

A clip a model cannot see (its input quarantined) gets no prediction: it is scored as wrong in the
accuracy and as a miss of its true class in the recalls, and the confusion matrix counts it in an
extra last column, "no prediction" (7 true classes x 7 predicted + 1; the paper's tables are 7 x 7).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .constants import CLASSES

# The predicted index of a clip that got no prediction; it never equals a true class index.
NO_PREDICTION = -1
NO_PREDICTION_LABEL = "no prediction"
CONFUSION_COLUMNS: tuple[str, ...] = tuple(CLASSES) + (NO_PREDICTION_LABEL,)


def label_indices(labels: Sequence[str]) -> np.ndarray:
    """Map class codes (AN ... SU) to their index in CLASSES."""
    index = {c: i for i, c in enumerate(CLASSES)}
    try:
        return np.array([index[label] for label in labels], dtype=int)
    except KeyError as error:
        raise ValueError(f"unknown class label {error.args[0]!r}; expected one of {CLASSES}") from None


def predicted_index(probs: np.ndarray | None) -> int:
    """The class index of one prediction row's probabilities; NO_PREDICTION when it has none."""
    return NO_PREDICTION if probs is None else int(np.argmax(probs))


def predicted_indices(probs: Sequence[np.ndarray | None]) -> np.ndarray:
    return np.array([predicted_index(p) for p in probs], dtype=int)


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """Counts [n_classes, n_classes + 1]: rows = true class, columns = predicted class, then the
    clips with no prediction (NO_PREDICTION) in the last column."""
    predicted = np.asarray(predicted, dtype=int)
    matrix = np.zeros((n_classes, n_classes + 1), dtype=int)
    np.add.at(matrix, (np.asarray(true, dtype=int), np.where(predicted == NO_PREDICTION, n_classes, predicted)), 1)
    return matrix


def accuracy(confusion: np.ndarray) -> float:
    """Correct clips over all clips, those without a prediction included."""
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else float("nan")


def per_class_recall(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class (a clip without prediction is a miss); NaN for a class with no true samples."""
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)


def unweighted_average_recall(confusion: np.ndarray) -> float:
    """UAR: the mean of the per-class recalls over the classes present (paper: 'unweighted average')."""
    recalls = per_class_recall(confusion)
    present = ~np.isnan(recalls)
    return float(recalls[present].mean()) if present.any() else float("nan")


def confusion_percent(confusion: np.ndarray) -> np.ndarray:
    """Row-normalised confusion in percent, as in the paper's tables (with ours, the no-prediction
    column is part of the row)."""
    support = confusion.sum(axis=1, keepdims=True)
    return np.where(support > 0, 100.0 * confusion / np.maximum(support, 1), 0.0)


def summarize(true: np.ndarray, predicted: np.ndarray) -> dict[str, object]:
    """The metrics JSON block for one split (docs/artifacts.md); `predicted` holds NO_PREDICTION
    for the clips without a prediction."""
    confusion = confusion_matrix(true, predicted)
    recalls = per_class_recall(confusion)
    return {
        "n": int(confusion.sum()),
        "n_no_prediction": int(confusion[:, -1].sum()),
        "accuracy": accuracy(confusion),
        "uar": unweighted_average_recall(confusion),
        "per_class_recall": {c: (None if np.isnan(r) else float(r)) for c, r in zip(CLASSES, recalls)},
        "confusion_columns": list(CONFUSION_COLUMNS),
        "confusion": confusion.tolist(),
    }


def _resampled_accuracy_and_uar(true: np.ndarray, correct: np.ndarray, resample: np.ndarray,
                                n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and UAR of each row of `resample` (an index array [B, N] into the clips)."""
    true_resampled = true[resample]
    correct_resampled = correct[resample]
    accuracies = correct_resampled.mean(axis=1)
    onehot = true_resampled[..., None] == np.arange(n_classes)
    support = onehot.sum(axis=1)
    hits = (onehot & correct_resampled[..., None]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recalls = np.where(support > 0, hits / np.maximum(support, 1), np.nan)
    present = support > 0
    uars = np.nansum(recalls, axis=1) / np.maximum(present.sum(axis=1), 1)
    return accuracies, uars


def _undefined_intervals() -> dict[str, tuple[float, float]]:
    """(nan, nan) for accuracy and UAR: no clips (or no resamples) to draw an interval from."""
    return {"accuracy": (float("nan"), float("nan")), "uar": (float("nan"), float("nan"))}


def _percentile_intervals(resampled: dict[str, np.ndarray], confidence: float) -> dict[str, tuple[float, float]]:
    """Central percentile interval of each metric's resampled values."""
    tail = 100.0 * (1.0 - confidence) / 2.0
    intervals = {}
    for name, values in resampled.items():
        low, high = np.percentile(values, [tail, 100.0 - tail])
        intervals[name] = (float(low), float(high))
    return intervals


def bootstrap_confidence_intervals(
    true: np.ndarray,
    predicted: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    n_classes: int = len(CLASSES),
    max_cells: int = 20_000_000,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of accuracy and UAR, resampling clips with replacement.

    A clip without prediction (NO_PREDICTION) is never correct. Not in the paper (section 3.2
    reports point values); with a few hundred validation clips,
    differences of a few points are within these intervals. Returns {"accuracy": (low, high),
    "uar": (low, high)} as fractions; (nan, nan) when there are no clips.
    """
    true = np.asarray(true, dtype=int)
    correct = true == np.asarray(predicted, dtype=int)
    if len(true) == 0 or n_resamples < 1:
        return _undefined_intervals()
    accuracies, uars = _bootstrap_accuracy_and_uar(true, correct, np.random.default_rng(seed), n_resamples=n_resamples,
                                                   n_classes=n_classes, max_cells=max_cells)
    return _percentile_intervals({"accuracy": accuracies, "uar": uars}, confidence)


def _bootstrap_accuracy_and_uar(true: np.ndarray, correct: np.ndarray, rng: np.random.Generator, *, n_resamples: int,
                                n_classes: int, max_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and UAR of `n_resamples` resamples of the clips (with replacement) drawn from `rng`."""
    n_clips = len(true)
    # Resamples are drawn in chunks so that memory stays bounded for large corpora.
    chunk = max(1, max_cells // (n_clips * n_classes))
    accuracies, uars = [], []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        resample = rng.integers(0, n_clips, size=(size, n_clips))
        chunk_accuracies, chunk_uars = _resampled_accuracy_and_uar(true, correct, resample, n_classes)
        accuracies.append(chunk_accuracies)
        uars.append(chunk_uars)
    return np.concatenate(accuracies), np.concatenate(uars)


def bootstrap_difference_intervals(
    true: np.ndarray,
    predicted_a: np.ndarray,
    predicted_b: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    n_classes: int = len(CLASSES),
) -> dict[str, tuple[float, float]]:
    """Paired percentile bootstrap of (metric of A) - (metric of B) for accuracy and UAR.

    Both predictions are scored on the same resampled clips, so the interval reflects the
    difference itself (e.g. grid-searched vs equal fusion weights), not two independent noises.
    """
    true = np.asarray(true, dtype=int)
    n_clips = len(true)
    if n_clips == 0 or n_resamples < 1:
        return _undefined_intervals()
    resample = np.random.default_rng(seed).integers(0, n_clips, size=(n_resamples, n_clips))
    accuracy_a, uar_a = _resampled_accuracy_and_uar(true, true == np.asarray(predicted_a), resample, n_classes)
    accuracy_b, uar_b = _resampled_accuracy_and_uar(true, true == np.asarray(predicted_b), resample, n_classes)
    return _percentile_intervals({"accuracy": accuracy_a - accuracy_b, "uar": uar_a - uar_b}, confidence)


def bootstrap_unpaired_difference_intervals(
    true_a: np.ndarray,
    predicted_a: np.ndarray,
    true_b: np.ndarray,
    predicted_b: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    n_classes: int = len(CLASSES),
    max_cells: int = 20_000_000,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap of (metric on clips A) - (metric on clips B) for accuracy and UAR, the two
    clip sets resampled independently (e.g. in-corpus val against another corpus: no clip is in both).

    Each resample's UAR averages the classes present in it, so a corpus without some class is scored
    over its own classes. Returns fractions; (nan, nan) when either set is empty.
    """
    true_a, true_b = np.asarray(true_a, dtype=int), np.asarray(true_b, dtype=int)
    if len(true_a) == 0 or len(true_b) == 0 or n_resamples < 1:
        return _undefined_intervals()
    rng = np.random.default_rng(seed)
    settings = {"n_resamples": n_resamples, "n_classes": n_classes, "max_cells": max_cells}
    accuracy_a, uar_a = _bootstrap_accuracy_and_uar(true_a, true_a == np.asarray(predicted_a, dtype=int), rng,
                                                    **settings)
    accuracy_b, uar_b = _bootstrap_accuracy_and_uar(true_b, true_b == np.asarray(predicted_b, dtype=int), rng,
                                                    **settings)
    return _percentile_intervals({"accuracy": accuracy_a - accuracy_b, "uar": uar_a - uar_b}, confidence)
