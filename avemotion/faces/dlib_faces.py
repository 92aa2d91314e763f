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
# dlib's 5-point model (same ERT method [18], trained for alignment): points 0/1 are the outer/inner
# corner of the eye on the image's right, 2/3 the outer/inner corner of the other eye; this order
# puts them as EYE_CORNER_TEMPLATE wants once image_order() has sorted the eyes.
DLIB5_EYE_CORNERS: tuple[int, ...] = (0, 1, 3, 2)
# dlib's frontal detector has five HOG filters; 3 and 4 find heads rolled to one side or the other:
# the roll (eye-line angle, degrees, y down) they imply seeds the landmark fit.
DLIB_FILTER_ROLL: dict[int, float] = {3: -25.0, 4: 25.0}
# not paper: side of the upright crop the shape predictor sees for a tilted head, relative to the box.
ROTATED_CROP_SCALE: float = 2.0
# dlib's frontal HOG detector scans an 80 x 80 window: at a scale s it finds face boxes from 80 / s px.
HOG_WINDOW_PX: int = 80
# not paper, detect_scale "auto": the first pass sees the frame at most this many pixels wide (AFEW's
# 720 x 576 at full size: a first pass at half size moved the boxes, and the fits with them, enough to
# lose 1 in 8 frames of the real-photo scenes); on a miss, a crop three times the subject's last box
# with that face brought to 120 px, then the whole frame enlarged until faces of min_face_px are found.
AUTO_MAX_SIDE: int = 960
NEAR_CROP_SCALE: float = 3.0
NEAR_FACE_PX: int = 120
# not paper: the 68-point and the 5-point fits are two ERT cascades of the same face; where their eye
# corners differ by more than this fraction of the eye span, the fit has failed (measured on the
# real-photo scenes: good fits differ by 0.01-0.15, a fit that slid off a 48-px face by 0.31).
MAX_FIT_DISAGREEMENT: float = 0.2


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
    """Track B: dlib HOG detector + 68-point ERT shape predictor (reference [18]) on the
    full-resolution frame.

    ``detect_scale`` a number: one HOG pass on the frame scaled by it (with ``upsample`` doublings).
    ``"auto"``: coarse to fine, so that faces from ``min_face_px`` (dlib box width) up to the whole
    frame are found whatever the frame size: the frame at most AUTO_MAX_SIDE wide; where that finds
    nothing, a finer look around the subject's last box; then the whole frame enlarged.
    """

    method = "dlib"
    n_landmarks = 68

    def __init__(self, detect_scale: float | str = "auto", upsample: int = 0, min_score: float = 0.0,
                 min_face_px: int = 48) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(face_recognition_model_file("shape_predictor_68_face_landmarks.dat")))
        self._corner_predictor = dlib.shape_predictor(str(face_recognition_model_file("shape_predictor_5_face_landmarks.dat")))
        self.auto = detect_scale == "auto"
        self.detect_scale = 1.0 if self.auto else float(detect_scale)
        self.upsample = int(upsample)
        self.min_score = float(min_score)
        self.min_face_px = int(min_face_px)
        self.derotate_passes = 2

    def detect(self, rgb: np.ndarray, near: np.ndarray | None = None) -> list[Detection]:
        height, width = rgb.shape[:2]
        scale = min(1.0, AUTO_MAX_SIDE / max(height, width)) if self.auto else self.detect_scale
        found = self._run(rgb, scale)
        if found or not self.auto:
            return found
        if near is not None:
            found = self._run_near(rgb, near)
            if found:
                return found
        smallest = HOG_WINDOW_PX / (scale * 2 ** self.upsample)
        if self.min_face_px < smallest:
            return self._run(rgb, HOG_WINDOW_PX / (self.min_face_px * 2 ** self.upsample))
        return []

    def _run(self, rgb: np.ndarray, scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> list[Detection]:
        """HOG on ``rgb`` scaled by ``scale``; boxes in the coordinates of ``rgb`` shifted by ``origin``."""
        import cv2

        image = rgb
        if scale != 1.0:
            height, width = rgb.shape[:2]
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        rects, scores, filters = self._detector.run(grey, self.upsample, self.min_score)
        shift = np.array([origin[0], origin[1], origin[0], origin[1]])
        return [
            Detection(box=np.array([r.left(), r.top(), r.right(), r.bottom()], dtype=np.float64) / scale + shift,
                      score=float(score), roll_hint=DLIB_FILTER_ROLL.get(int(kind), 0.0))
            for r, score, kind in zip(rects, scores, filters)
        ]

    def _run_near(self, rgb: np.ndarray, near: np.ndarray) -> list[Detection]:
        """HOG on a crop NEAR_CROP_SCALE times the subject's last box, its face brought to NEAR_FACE_PX."""
        height, width = rgb.shape[:2]
        side = max(near[2] - near[0], near[3] - near[1], 1.0)
        centre_x, centre_y = (near[0] + near[2]) / 2, (near[1] + near[3]) / 2
        half = NEAR_CROP_SCALE * side / 2
        x0, y0 = int(max(0, centre_x - half)), int(max(0, centre_y - half))
        x1, y1 = int(min(width, centre_x + half)), int(min(height, centre_y + half))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        return self._run(rgb[y0:y1, x0:x1], NEAR_FACE_PX / side, origin=(x0, y0))

    def _predict(self, rgb: np.ndarray, box: np.ndarray, roll: float, predictor=None,
                 mirrored: bool = False) -> np.ndarray:
        """The points of ``predictor`` (default: the 68-point one; source pixels) predicted on a crop
        around ``box`` rotated by ``roll`` degrees (the eye line's angle in the image), so the
        predictor sees the face upright; ``mirrored``: on that crop's mirror image (the points'
        left and right swap)."""
        import cv2
        import dlib

        if abs(roll) < 1e-6 and not mirrored:
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
            if mirrored:
                last = image.shape[1] - 1
                image = np.ascontiguousarray(image[:, ::-1])
                box_in_image = np.array([last - box_in_image[2], box_in_image[1], last - box_in_image[0], box_in_image[3]])
                back = back @ np.array([[-1.0, 0.0, last], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        x0, y0, x1, y1 = (int(round(v)) for v in box_in_image)
        shape = (predictor or self._predictor)(image, dlib.rectangle(x0, y0, x1, y1))
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
        # The eye corners that align the face come from the 5-point model on the same upright crop:
        # on real faces it places them more steadily than the 68-point fit (docs/faces.md: on a face
        # with glasses the 68-point inner corners moved by up to 8 px at 224 between frames).
        # Averaged with the fit on the crop's mirror image: the fit's left/right bias cancels.
        corners = [image_order(self._predict(rgb, detection.box, roll, self._corner_predictor, mirrored)
                               [list(DLIB5_EYE_CORNERS)]) for mirrored in (False, True)]
        eye_corners = (corners[0] + corners[1]) / 2
        span = max(float(np.linalg.norm(eye_corners[3] - eye_corners[0])), 1.0)
        disagreement = float(np.linalg.norm(image_order(points[list(DLIB_EYE_CORNERS)]) - eye_corners, axis=1).max())
        if disagreement > MAX_FIT_DISAGREEMENT * span:
            return None
        return FaceLandmarks(landmarks=points, eye_corners=eye_corners)

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        return None  # the ERT fit needs the HOG detector's box convention: detect every frame

    def close(self) -> None:
        pass
