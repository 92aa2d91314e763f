"""The confusion PNGs: one heatmap panel per scored split, the paper's table and each evaluation
dataset's, the rows of absent classes greyed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..artifacts import atomic_output
from ..constants import CLASSES, PAPER_CONFUSION_PERCENT, PAPER_CONFUSION_SPLIT, PAPER_CONFUSION_TABLE
from ..metrics import CONFUSION_COLUMNS
from .markdown import percent
from .scores import ABSENT, SplitScores, paper_scores
from .table import StrPath


@dataclass(frozen=True)
class ConfusionPanel:
    """One heatmap of a confusion PNG: its title, the matrix in percent, the rows of absent classes."""

    title: str
    matrix: np.ndarray
    absent_rows: tuple[int, ...] = ()


def confusion_panels(model: str, scores: Sequence[SplitScores],
                     cross_corpus: Sequence[tuple[str, SplitScores]] = ()) -> list[ConfusionPanel]:
    """Ours per scored split, the paper's table for this model (if any), then one panel per
    evaluation dataset (name, scores over all its splits)."""
    panels = [_scores_panel(f"ours, {s.split}", s) for s in scores]
    if model in PAPER_CONFUSION_PERCENT:
        split = PAPER_CONFUSION_SPLIT[model]
        accuracy, uar = paper_scores(model, split)
        panels.append(ConfusionPanel(f"paper Table {PAPER_CONFUSION_TABLE[model]}, {split}\n"
                                     f"acc {accuracy:.1f} %, UAR {uar:.1f} %",
                                     np.array(PAPER_CONFUSION_PERCENT[model])))
    panels += [_scores_panel(f"{name} (cross-corpus), all splits", s) for name, s in cross_corpus]
    return panels


def _scores_panel(name: str, s: SplitScores) -> ConfusionPanel:
    return ConfusionPanel(f"{name} (n={s.n}, {s.n_no_prediction} without prediction)\n"
                          f"acc {percent(s.accuracy, 1)} %, UAR {percent(s.uar, 1)} %",
                          s.confusion_percent, tuple(CLASSES.index(c) for c in s.absent_classes))


def plot_confusions(path: StrPath, *, model: str, scores: Sequence[SplitScores],
                    cross_corpus: Sequence[tuple[str, SplitScores]] = ()) -> None:
    """PNG heatmaps: ours per scored split (7 x 8, the last column "no prediction"), the paper's
    table for this model (7 x 7), if any, then each evaluation dataset's; the rows of classes without
    a true clip are greyed, hatched and marked "absent"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    panels = confusion_panels(model, scores, cross_corpus)
    if not panels:
        panels.append(ConfusionPanel("no labelled clips", np.zeros((len(CLASSES), len(CONFUSION_COLUMNS)))))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.6), squeeze=False)
    for axis, panel in zip(axes[0], panels):
        title, matrix = panel.title, panel.matrix
        axis.imshow(matrix, cmap="Blues", vmin=0, vmax=100)
        for i, j in np.ndindex(*matrix.shape):
            if i not in panel.absent_rows:
                axis.text(j, i, f"{matrix[i, j]:.0f}", ha="center", va="center", fontsize=8,
                          color="white" if matrix[i, j] > 55 else "black")
        for i in panel.absent_rows:
            axis.add_patch(Rectangle((-0.5, i - 0.5), matrix.shape[1], 1, facecolor="lightgrey", edgecolor="grey",
                                     hatch="//", linewidth=0.5))
            axis.text((matrix.shape[1] - 1) / 2, i, ABSENT, ha="center", va="center", fontsize=8,
                      bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        has_no_prediction_column = matrix.shape[1] > len(CLASSES)
        if has_no_prediction_column:
            axis.axvline(len(CLASSES) - 0.5, color="grey", linewidth=1)
        column_names = list(CLASSES) + (["none"] if has_no_prediction_column else [])
        axis.set_xticks(range(len(column_names)), column_names)
        axis.set_yticks(range(len(CLASSES)), CLASSES)
        axis.set_xlabel("predicted" + (" (none: no prediction)" if has_no_prediction_column else ""))
        axis.set_ylabel("true")
        axis.set_title(title, fontsize=9)
    figure.suptitle(f"{model}: confusion in % of the true class")
    figure.tight_layout()
    with atomic_output(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=90, format="png", bbox_inches="tight")
    plt.close(figure)
