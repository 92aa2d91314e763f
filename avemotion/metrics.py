"""Accuracy, unweighted average recall and confusion matrices (paper section 3.2, Tables 1-6)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .constants import CLASSES


def label_indices(labels: Sequence[str]) -> np.ndarray:
    """Map class codes (AN ... SU) to their index in CLASSES."""
    index = {c: i for i, c in enumerate(CLASSES)}
    try:
        return np.array([index[label] for label in labels], dtype=int)
    except KeyError as error:
        raise ValueError(f"unknown class label {error.args[0]!r}; expected one of {CLASSES}") from None


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(matrix, (np.asarray(true, dtype=int), np.asarray(predicted, dtype=int)), 1)
    return matrix


def accuracy(confusion: np.ndarray) -> float:
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else float("nan")


def per_class_recall(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class; NaN for a class with no true samples."""
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)


def unweighted_average_recall(confusion: np.ndarray) -> float:
    """UAR: the mean of the per-class recalls over the classes present (paper: 'unweighted average')."""
    recalls = per_class_recall(confusion)
    present = ~np.isnan(recalls)
    return float(recalls[present].mean()) if present.any() else float("nan")


def confusion_percent(confusion: np.ndarray) -> np.ndarray:
    """Row-normalised confusion in percent, as in the paper's tables."""
    support = confusion.sum(axis=1, keepdims=True)
    return np.where(support > 0, 100.0 * confusion / np.maximum(support, 1), 0.0)


def summarize(true: np.ndarray, predicted: np.ndarray) -> dict[str, object]:
    """The metrics JSON block for one split (README, "Artifacts")."""
    confusion = confusion_matrix(true, predicted)
    recalls = per_class_recall(confusion)
    return {
        "n": int(confusion.sum()),
        "accuracy": accuracy(confusion),
        "uar": unweighted_average_recall(confusion),
        "per_class_recall": {c: (None if np.isnan(r) else float(r)) for c, r in zip(CLASSES, recalls)},
        "confusion": confusion.tolist(),
    }
