"""Markdown pieces of summary.md: tables, confusion matrices beside the paper's, and the percent,
interval and points formatters (also the PNG titles')."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..constants import CLASSES, FUSION
from ..metrics import CONFUSION_COLUMNS
from .scores import ABSENT, SplitScores


def percent(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.{digits}f}"


def with_interval(value: float, interval: tuple[float, float]) -> str:
    return f"{percent(value)} [{percent(interval[0], 1)}, {percent(interval[1], 1)}]"


def paper_cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def confusion_markdown(ours: np.ndarray, paper: np.ndarray | None, absent: Sequence[str] = ()) -> str:
    """Rows = true class AN..SU, columns = predicted AN..SU then "no prediction" (ours is 7 x 8, the
    paper's 7 x 7: its cells go beside ours in the first seven columns); each cell 'ours (paper)' in
    percent. Our cells of a class in `absent` (no true clip scored) read "absent"."""
    rows = []
    for i, true_class in enumerate(CLASSES):
        cells = []
        for j in range(len(CONFUSION_COLUMNS)):
            cell = ABSENT if true_class in absent else f"{ours[i, j]:.2f}"
            if paper is not None and j < paper.shape[1]:
                cell += f" ({paper[i, j]:.2f})"
            cells.append(cell)
        rows.append([f"**{true_class}**"] + cells)
    return markdown_table(["true \\ predicted"] + list(CONFUSION_COLUMNS), rows)


def model_cell(model: str) -> str:
    """A model's name in a table's first column, the fusion's in bold."""
    return f"**{model}**" if model == FUSION else model


def scores_cells(s: SplitScores | None) -> list[object]:
    """n, accuracy and UAR with intervals; 0 and dashes without labelled clips."""
    if s is None:
        return [0, "–", "–"]
    return [s.n, with_interval(s.accuracy, s.accuracy_interval), with_interval(s.uar, s.uar_interval)]


def scores_sentence(s: SplitScores) -> str:
    return (f"n = {s.n} ({s.n_no_prediction} without prediction); accuracy "
            f"{with_interval(s.accuracy, s.accuracy_interval)} %, UAR {with_interval(s.uar, s.uar_interval)} %")


def points_with_interval(value: float, interval: tuple[float, float]) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{100 * value:+.2f} [{100 * interval[0]:+.1f}, {100 * interval[1]:+.1f}]"
