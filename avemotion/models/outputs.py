"""What every model writes (docs/artifacts.md): its model file, predictions TSV, metrics JSON,
train_log.csv and the training curve PNG.

A clip whose input for the model's modality is quarantined or missing gets a prediction row with
status "quarantined", the reason and no probabilities, so fusion and the report see every clip.
Metrics count every labelled clip of the split: a quarantined one has no prediction, so it is wrong
in the accuracy, a miss of its true class in the recalls and counted in the confusion matrix's
"no prediction" column (`avemotion.metrics`); `n_quarantined` says how many there were.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..artifacts import STATUS_OK, STATUS_QUARANTINED, atomic_output, write_predictions
from ..metrics import label_indices, predicted_indices, summarize
from .clips import Clip
from .training import LOG_COLUMNS


@dataclass(frozen=True)
class ModelOutputs:
    """Where one model's artifacts go (the rule's outputs). `checkpoint` is the model file,
    checkpoint.pt."""

    checkpoint: Path
    train_log: Path
    curve: Path
    predictions: Path
    metrics: Path

    @property
    def resume(self) -> Path:
        """The deep models' resume checkpoint, beside the final one until training has finished."""
        return self.checkpoint.with_name("resume.pt")

    @classmethod
    def of(cls, checkpoint: str | Path, train_log: str | Path, curve: str | Path, predictions: str | Path,
           metrics: str | Path) -> "ModelOutputs":
        return cls(Path(checkpoint), Path(train_log), Path(curve), Path(predictions), Path(metrics))


def write_evaluation(clips: Sequence[Clip], train_splits: Sequence[str], predict: Callable[[Clip], np.ndarray],
                     log_rows: Sequence[Mapping], title: str, outputs: ModelOutputs) -> dict:
    """Predict the clips of the evaluation splits and write predictions, metrics, train log and curve;
    returns the metrics."""
    splits = evaluation_splits(train_splits)
    rows = prediction_rows(clips, splits, predict)
    write_predictions(outputs.predictions, rows)
    metrics = metrics_by_split(rows, splits)
    with atomic_output(outputs.metrics) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    write_train_log(outputs.train_log, log_rows)
    plot_curve(outputs.curve, log_rows, f"{title} (trained on {'+'.join(train_splits)})")
    return metrics


def evaluation_splits(train_splits: Sequence[str]) -> tuple[str, ...]:
    """val and test rows for a model trained on train; only test rows for a refit on train+val."""
    return tuple(split for split in ("val", "test") if split not in train_splits)


def prediction_rows(clips: Sequence[Clip], splits: Sequence[str],
                    predict: Callable[[Clip], np.ndarray]) -> list[dict]:
    """One row per clip of `splits`: the model's probabilities, or none when it cannot see the clip."""
    rows = []
    for clip in clips:
        if clip.split not in splits:
            continue
        if clip.status == STATUS_OK:
            probs, status, reason = np.asarray(predict(clip), dtype=float), STATUS_OK, ""
        else:
            probs, status, reason = None, STATUS_QUARANTINED, clip.reason
        rows.append({"clip_id": clip.clip_id, "split": clip.split, "label": clip.label, "probs": probs,
                     "status": status, "reason": reason})
    return rows


def _finite_or_none(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    return value


def metrics_by_split(rows: Sequence[Mapping], splits: Sequence[str]) -> dict:
    """{split: avemotion.metrics.summarize(...) + n_quarantined} over the labelled rows."""
    result = {}
    for split in splits:
        labelled = [r for r in rows if r["split"] == split and r["label"]]
        true = label_indices([r["label"] for r in labelled])
        predicted = predicted_indices([r["probs"] for r in labelled])
        block = _finite_or_none(summarize(true, predicted))
        block["n_quarantined"] = sum(r["status"] != STATUS_OK for r in labelled)
        result[split] = block
    return result


def write_train_log(path: str | Path, log_rows: Sequence[Mapping]) -> None:
    """train_log.csv: stage, step, lr, loss, accuracy (batch accuracy) per optimisation step."""
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(LOG_COLUMNS), lineterminator="\n")
            writer.writeheader()
            writer.writerows(log_rows)


def plot_curve(path: str | Path, log_rows: Sequence[Mapping], title: str) -> None:
    """Loss and batch accuracy per step, one colour per stage (moving average over 10 steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.2))
    stages = list(dict.fromkeys(r["stage"] for r in log_rows))
    offset = 0
    for stage in stages:
        rows = [r for r in log_rows if r["stage"] == stage]
        x = offset + np.array([r["step"] for r in rows])
        for axis, key in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
            values = np.array([r[key] for r in rows], dtype=float)
            window = min(10, len(values))
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            axis.plot(x[window - 1:], smooth, label=stage)
        offset = int(x[-1]) + 1
    loss_axis.set(xlabel="step", ylabel="training loss")
    accuracy_axis.set(xlabel="step", ylabel="batch accuracy", ylim=(0, 1))
    if stages:
        loss_axis.legend()
    else:
        loss_axis.text(0.5, 0.5, "no training steps", ha="center", transform=loss_axis.transAxes)
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_output(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=90)
    plt.close(figure)
