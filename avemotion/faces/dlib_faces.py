"""Track B: dlib's HOG detector and the 68-point ERT shape predictor (Kazemi & Sullivan, the paper's
reference [18]); eye corners are points 36/39 and 42/45."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .align import image_order
from .detection import Detection, FaceLandmarks

# dlib 68-point (iBUG 300-W) indices of the same corners.
DLIB_EYE_CORNERS: tuple[int, ...] = (36, 39, 42, 45)
# dlib's frontal detector has five HOG filters; 3 and 4 find heads rolled to one side or the other:
# the roll (eye-line angle, degrees, y down) they imply seeds the landmark fit.
DLIB_FILTER_ROLL: dict[int, float] = {3: -25.0, 4: 25.0}
# not paper: side of the upright crop the shape predictor sees for a tilted head, relative to the box.
ROTATED_CROP_SCALE: float = 2.0


def face_recognition_model_file(name: str) -> Path:
    """Path of a model file shipped by ``face_recognition_models`` (found without importing it: its
    ``__init__`` needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face_recognition_models is not installed (pip install face_recognition_models)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing from face_recognition_models")
    return path


class DlibFaces:
    """Track B: dlib HOG detector (on a frame downscaled by ``detect_scale``) + 68-point ERT shape
    predictor (reference [18]) on the full-resolution frame."""

    method = "dlib"
    n_landmarks = 68

    def __init__(self, detect_scale: float = 0.5, upsample: int = 0, min_score: float = 0.0) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(face_recognition_model_file("shape_predictor_68_face_landmarks.dat")))
        self.detect_scale = float(detect_scale)
        self.upsample = int(upsample)
        self.min_score = float(min_score)
        self.derotate_passes = 2

    def detect(self, rgb: np.ndarray, near: np.ndarray | None = None) -> list[Detection]:
        import cv2

        small = rgb
        if self.detect_scale != 1.0:
            height, width = rgb.shape[:2]
            size = (max(1, round(width * self.detect_scale)), max(1, round(height * self.detect_scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        rects, scores, filters = self._detector.run(grey, self.upsample, self.min_score)
        return [
            Detection(box=np.array([r.left(), r.top(), r.right(), r.bottom()], dtype=np.float64) / self.detect_scale,
                      score=float(score), roll_hint=DLIB_FILTER_ROLL.get(int(kind), 0.0))
            for r, score, kind in zip(rects, scores, filters)
        ]

    def _predict(self, rgb: np.ndarray, box: np.ndarray, roll: float) -> np.ndarray:
        """68 points (source pixels) predicted on a crop around ``box`` rotated by ``roll`` degrees
        (the eye line's angle in the image), so the predictor sees the face upright."""
        import cv2
        import dlib

        if abs(roll) < 1e-6:
            image, box_in_image, back = rgb, box, None
        else:
            x0, y0, x1, y1 = box
            side = ROTATED_CROP_SCALE * max(x1 - x0, y1 - y0, 1.0)
            center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            to_crop = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(roll), 1.0)
            to_crop[:, 2] += side / 2 - center
            image = cv2.warpAffine(rgb, to_crop, (int(side), int(side)), flags=cv2.INTER_LINEAR)
            half_width, half_height = (x1 - x0) / 2, (y1 - y0) / 2
            box_in_image = np.array([side / 2 - half_width, side / 2 - half_height,
                                     side / 2 + half_width, side / 2 + half_height])
            back = cv2.invertAffineTransform(to_crop)
        x0, y0, x1, y1 = (int(round(v)) for v in box_in_image)
        shape = self._predictor(image, dlib.rectangle(x0, y0, x1, y1))
        points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], dtype=np.float64)
        return points if back is None else points @ back[:, :2].T + back[:, 2]

    def landmarks(self, rgb: np.ndarray, detection: Detection) -> FaceLandmarks | None:
        # The ERT predictor starts from an upright mean shape and converges poorly on a tilted head
        # (the HOG detector finds faces rolled by ~30 degrees): predict on a crop rotated upright,
        # starting from the roll the detector's filter implies, then from the eye line found.
        roll = detection.roll_hint
        points = self._predict(rgb, detection.box, roll)
        for _ in range(self.derotate_passes):
            corners = image_order(points[list(DLIB_EYE_CORNERS)])
            dx, dy = corners[3] - corners[0]
            angle = float(np.degrees(np.arctan2(dy, dx)))
            if abs(angle - roll) < 2.0:
                break
            roll = angle
            points = self._predict(rgb, detection.box, roll)
        return FaceLandmarks(landmarks=points, eye_corners=image_order(points[list(DLIB_EYE_CORNERS)]))

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        return None  # the ERT fit needs the HOG detector's box convention: detect every frame

    def close(self) -> None:
        pass
