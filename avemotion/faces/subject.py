"""Subject selection: several faces in a frame, keep the one that is the clip's subject over time."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .detection import Detection


def box_iou(first: np.ndarray, second: np.ndarray) -> float:
    x0, y0 = max(first[0], second[0]), max(first[1], second[1])
    x1, y1 = min(first[2], second[2]), min(first[3], second[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = ((first[2] - first[0]) * (first[3] - first[1]) + (second[2] - second[0]) * (second[3] - second[1])
             - inter)
    return float(inter / union) if union > 0 else 0.0


@dataclass
class SubjectTracker:
    """Chooses the subject among a frame's faces: relative size plus overlap with the subject's box in
    the previous frame with a face (weight ``continuity``), so a larger passer-by in one frame does not
    take over while the subject stays in view."""

    continuity: float = 2.0
    previous_box: np.ndarray | None = field(default=None)

    def choose(self, detections: Sequence[Detection]) -> Detection | None:
        if not detections:
            return None
        largest = max(d.area for d in detections) or 1.0

        def merit(detection: Detection) -> float:
            overlap = box_iou(detection.box, self.previous_box) if self.previous_box is not None else 0.0
            return detection.area / largest + self.continuity * overlap

        subject = max(detections, key=merit)
        self.previous_box = subject.box
        return subject
