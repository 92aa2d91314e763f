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


def is_near(box: np.ndarray, reference: np.ndarray) -> bool:
    """The same place: overlapping boxes, or centres closer than the larger box's side."""
    if box_iou(box, reference) > 0:
        return True
    centre = (box[:2] + box[2:]) / 2
    reference_centre = (reference[:2] + reference[2:]) / 2
    side = max(box[2] - box[0], box[3] - box[1], reference[2] - reference[0], reference[3] - reference[1])
    return float(np.linalg.norm(centre - reference_centre)) <= side


@dataclass
class SubjectTracker:
    """Chooses the subject among a frame's faces and keeps it over time.

    Candidates rank by relative size plus overlap with the subject's last box (weight
    ``continuity``), so a larger passer-by does not take over while the subject stays in view. A face
    somewhere else becomes the subject only after ``confirm_frames`` frames in a row there (the
    subject left, or the shot changed): a track never jumps to another place for one frame. After
    ``forget_frames`` unique frames without the subject, any face may start the track anew.
    """

    continuity: float = 2.0
    confirm_frames: int = 3
    forget_frames: int = 25
    previous_box: np.ndarray | None = field(default=None)
    frames_since_seen: int = 0
    elsewhere: list[np.ndarray] = field(default_factory=list)
    n_jumps_refused: int = 0
    _refused_this_frame: bool = False

    def rank(self, detections: Sequence[Detection]) -> list[Detection]:
        """The candidates, most likely subject first."""
        if not detections:
            return []
        largest = max(d.area for d in detections) or 1.0

        def merit(detection: Detection) -> float:
            overlap = box_iou(detection.box, self.previous_box) if self.previous_box is not None else 0.0
            return detection.area / largest + self.continuity * overlap

        return sorted(detections, key=merit, reverse=True)

    def continues(self, detection: Detection, min_overlap: float = 0.5) -> bool:
        """The subject, found in the previous frame, is still in place (its appearance was checked
        when the track took it: an object this much on top of it is the same one)."""
        return (self.previous_box is not None and self.frames_since_seen == 0
                and box_iou(detection.box, self.previous_box) >= min_overlap)

    def accept(self, detection: Detection) -> bool:
        """Take this (checked) face as the subject of the current frame, unless it is a jump."""
        box = detection.box
        if self._refused_this_frame:  # one place elsewhere per frame counts towards confirm_frames
            return False
        if (self.previous_box is None or self.frames_since_seen >= self.forget_frames
                or is_near(box, self.previous_box)):
            self._follow(box)
            return True
        if self.elsewhere and is_near(box, self.elsewhere[-1]):
            self.elsewhere.append(box)
        else:
            self.elsewhere = [box]
        if len(self.elsewhere) >= self.confirm_frames:
            self._follow(box)
            return True
        self.n_jumps_refused += 1
        self._refused_this_frame = True
        return False

    def missed(self) -> None:
        """The current frame has no subject (a face elsewhere must then show in the next frame to
        count towards ``confirm_frames``)."""
        self.frames_since_seen += 1
        if not self._refused_this_frame:
            self.elsewhere = []
        self._refused_this_frame = False

    def _follow(self, box: np.ndarray) -> None:
        self.previous_box = box
        self.frames_since_seen = 0
        self.elsewhere = []
        self._refused_this_frame = False
