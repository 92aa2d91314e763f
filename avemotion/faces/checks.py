"""Is a detection a face? Every detection that becomes a clip's subject passes two checks that a
badge, a poster or a pattern fails:

* landmark geometry: the fitted landmarks put the nose tip and the mouth below the eye line, in
  face-like proportions of the eye distance, and the eye distance fits the detection box;
* appearance: a second, independent face detector (MediaPipe's short-range BlazeFace, a CNN) sees a
  face centred in a crop around the box.

The thresholds come from measurements on real photos (docs/faces.md): on the two portraits under
rolls of up to 25 degrees and two scales, the faces scored 0.87-0.95 and every other dlib box
(the astronaut's NASA badge, folds of her suit) scored 0.00 except one at 0.64; the demo corpus's
animated faces score 0.73 and up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .align import square_crop
from .detection import Detection, FaceLandmarks

# Nose tip and mouth corners per landmark scheme (dlib 68 points: iBUG 300-W; MediaPipe FaceMesh).
GEOMETRY_POINTS: dict[str, tuple[int, tuple[int, int]]] = {
    "dlib": (30, (48, 54)),
    "mediapipe": (1, (61, 291)),
}
# not paper: face-like ranges, in units of the eye distance (eye centre to eye centre) along and
# across the eye line. Measured on the portraits: nose 0.51-0.59 below the eyes, mouth 0.84-1.04,
# nose at most 0.06 off the middle; the ranges leave room for turned and expressive faces (a
# three-quarter view shrinks the eye distance, so the nose and mouth sit relatively lower).
NOSE_BELOW_EYES: tuple[float, float] = (0.2, 1.6)
MOUTH_BELOW_EYES: tuple[float, float] = (0.5, 2.6)
NOSE_OFF_MIDDLE: float = 0.9
# eye distance / detection box width (portraits: 0.37-0.49 for dlib boxes)
EYES_IN_BOX: tuple[float, float] = (0.15, 0.9)
# the appearance check's crop: twice the box, at the short-range model's own input size
VERIFY_CROP_SCALE: float = 2.0
VERIFY_CROP_PIXELS: int = 128


def geometry_problem(found: FaceLandmarks, detection: Detection, method: str) -> str | None:
    """Why the landmarks are not face-like (None when they are)."""
    corners = found.eye_corners
    left_eye, right_eye = corners[:2].mean(axis=0), corners[2:].mean(axis=0)
    eye_distance = float(np.linalg.norm(right_eye - left_eye))
    box_width = float(detection.box[2] - detection.box[0])
    if eye_distance < 1.0 or box_width <= 0:
        return "eyes collapsed onto one point"
    ratio = eye_distance / box_width
    if not EYES_IN_BOX[0] <= ratio <= EYES_IN_BOX[1]:
        return f"eye distance {ratio:.2f} of the box width"
    if method not in GEOMETRY_POINTS or found.landmarks.shape[0] == 0:
        return None
    nose_index, mouth_indices = GEOMETRY_POINTS[method]
    along = (right_eye - left_eye) / eye_distance
    across = np.array([-along[1], along[0]])  # points down the face when the eyes run left to right
    middle = (left_eye + right_eye) / 2

    def position(point: np.ndarray) -> tuple[float, float]:
        offset = point - middle
        return float(offset @ along) / eye_distance, float(offset @ across) / eye_distance

    nose_x, nose_y = position(found.landmarks[nose_index])
    _, mouth_y = position(found.landmarks[list(mouth_indices)].mean(axis=0))
    if not NOSE_BELOW_EYES[0] <= nose_y <= NOSE_BELOW_EYES[1]:
        return f"nose {nose_y:.2f} eye distances below the eyes"
    if not MOUTH_BELOW_EYES[0] <= mouth_y <= MOUTH_BELOW_EYES[1] or mouth_y <= nose_y:
        return f"mouth {mouth_y:.2f} eye distances below the eyes (nose {nose_y:.2f})"
    if abs(nose_x) > NOSE_OFF_MIDDLE:
        return f"nose {nose_x:.2f} eye distances off the middle"
    return None


@dataclass
class FaceCheck:
    """Both checks, with the appearance model loaded once per job. ``min_score`` 0 turns the
    appearance check off (geometry only)."""

    min_score: float = 0.5

    def __post_init__(self) -> None:
        self._detector = None
        if self.min_score > 0:
            import mediapipe as mp

            self._detector = mp.solutions.face_detection.FaceDetection(
                model_selection=0, min_detection_confidence=min(0.05, self.min_score))

    def appearance_score(self, rgb: np.ndarray, box: np.ndarray) -> float:
        """The short-range detector's score of a face centred in a crop twice the box (0: none)."""
        x0, y0, x1, y1 = box
        side = VERIFY_CROP_SCALE * max(x1 - x0, y1 - y0, 1.0)
        crop, _ = square_crop(rgb, ((x0 + x1) / 2, (y0 + y1) / 2), side, VERIFY_CROP_PIXELS)
        best = 0.0
        for face in self._detector.process(crop).detections or []:
            box = face.location_data.relative_bounding_box
            if abs(box.xmin + box.width / 2 - 0.5) < 0.2 and abs(box.ymin + box.height / 2 - 0.5) < 0.2:
                best = max(best, float(face.score[0]) if face.score else 0.0)
        return best

    def problem(self, rgb: np.ndarray, found: FaceLandmarks, detection: Detection, method: str,
                appearance: bool = True) -> str | None:
        """Why this detection is not taken as a face (None: it is one). ``appearance`` False: the
        landmark geometry only (a face that continues a checked subject in place)."""
        problem = geometry_problem(found, detection, method)
        if problem is not None or self._detector is None or not appearance:
            return problem
        score = self.appearance_score(rgb, detection.box)
        if score < self.min_score:
            return f"face check score {score:.2f} < {self.min_score}"
        return None

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None
