"""What every face analyzer returns and offers: candidate boxes, landmarks with their eye corners."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Detection:
    """One face candidate: box (x0, y0, x1, y1) in source pixels and the detector's score."""

    box: np.ndarray
    score: float
    roll_hint: float = 0.0  # degrees of the eye line, when the detector knows the head is tilted
    # a followed face's box in the face's own frame (set by an analyzer that places boxes on landmarks)
    box_in_face: np.ndarray | None = None

    @property
    def area(self) -> float:
        width, height = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return float(max(width, 0.0) * max(height, 0.0))


@dataclass
class FaceLandmarks:
    landmarks: np.ndarray  # float [K, 2] source pixels
    eye_corners: np.ndarray  # float [4, 2], in EYE_CORNER_TEMPLATE order


class FaceAnalyzer(Protocol):
    method: str
    n_landmarks: int

    def detect(self, rgb: np.ndarray, near: np.ndarray | None = None) -> list[Detection]:
        """Face candidates in the frame. ``near``: the subject's box (x0, y0, x1, y1) in the last frame
        where it was found, or None; an analyzer may look there more closely (a crop, a finer scale)
        when the whole frame gives no face."""
        ...

    def landmarks(self, rgb: np.ndarray, detection: Detection) -> FaceLandmarks | None: ...

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        """Where to look for this face in the next frame without the detector (None: detect again)."""
        ...

    def close(self) -> None: ...
