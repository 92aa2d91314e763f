"""`avemotion predict`'s output: JSON, or a table per clip."""
from __future__ import annotations

import json
from typing import Sequence

from ..constants import CLASSES, FUSION
from ..artifacts import STATUS_OK
from .prediction import ClipPrediction, ModelPrediction


def predictions_json(predictions: Sequence[ClipPrediction]) -> str:
    return json.dumps([p.to_dict() for p in predictions], indent=2)


def format_table(predictions: Sequence[ClipPrediction]) -> str:
    """Per clip: the fused label and probabilities, then one row per model, then the messages."""
    header = f"  {'model':<16}{'label':<7}" + "".join(f"{c:>7}" for c in CLASSES) + f"{'weight':>9}  status"
    lines: list[str] = []
    for clip in predictions:
        if clip.label is None:
            lines.append(f"{clip.path}: no prediction")
        else:
            lines.append(f"{clip.path}: {clip.label} ({clip.label_name}, p={clip.probs.max():.3f})"
                         + ("" if clip.status == STATUS_OK else f" [{clip.status}]"))
        if clip.models:
            lines.append(header)
            rows = list(clip.models.values())
            if clip.probs is not None:
                rows.append(ModelPrediction(FUSION, clip.status, clip.probs, 1.0, 1.0))
            for model in rows:
                cells = ("".join(f"{p:>7.3f}" for p in model.probs) if model.probs is not None
                         else "".join(f"{'-':>7}" for _ in CLASSES))
                weight = f"{model.used_weight:.2f}" if model.model != FUSION else ""
                lines.append(f"  {model.model:<16}{model.label or '-':<7}{cells}{weight:>9}  {model.status}")
        lines += [f"  ! {message}" for message in clip.messages]
        lines.append("")
    return "\n".join(lines)
