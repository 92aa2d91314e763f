"""dlib's HOG detector and the 68-point ERT shape predictor (Kazemi & Sullivan, the paper's reference
[18]); the eye corners that align the face come from dlib's 5-point model."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
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
# a fit whose eye line differs from the roll it started from by this many degrees or more is fitted again
ROLL_TOLERANCE: float = 2.0
# not paper, ``follow``: where a frame is detected again, HOG looks first at a crop this many times the
# subject's last box with that face brought to this many pixels (dlib's window is 80 px): 160 x 160
# px, a sixteenth of a 720 x 576 frame; the full frame only where that crop holds no face.
FOLLOW_CROP_SCALE: float = 1.6
FOLLOW_FACE_PX: int = 100
# not paper, ``follow``: a followed face whose fit lies FOLLOW_SHIFT_TOLERANCE of its box or more from
# the box it started from (centre or side) is fitted again from where the fit found it; one that ends
# further than FOLLOW_MAX_SHIFT from it is detected afresh. Measured on the real-photo scenes (faces
# moving by up to a quarter of their width a frame): at 0.25 a 48-px face's fit slid off and passed
# every check in 1 of 6 frames; at 0.15 none did.
FOLLOW_SHIFT_TOLERANCE: float = 0.1
FOLLOW_MAX_SHIFT: float = 0.15


@dataclass(frozen=True)
class UprightView:
    """An image in which the face stands upright, its box there and the 2 x 3 map back to the frame's
    pixels (None: the frame itself)."""

    image: np.ndarray
    box: np.ndarray
    back: np.ndarray | None

    def mirrored(self) -> "UprightView":
        """The mirror image (left and right swap), with its box and its map back."""
        import cv2

        last = self.image.shape[1] - 1
        box = np.array([last - self.box[2], self.box[1], last - self.box[0], self.box[3]])
        back = np.vstack([np.eye(2, 3), [0.0, 0.0, 1.0]]) if self.back is None else self.back
        mirror = np.array([[-1.0, 0.0, last], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        return UprightView(cv2.flip(self.image, 1), box, (back @ mirror)[:2])

    def fit(self, predictor) -> np.ndarray:
        """``predictor``'s points on this view, in the frame's pixels (float [K, 2])."""
        import dlib

        x0, y0, x1, y1 = (int(round(v)) for v in self.box)
        shape = predictor(self.image, dlib.rectangle(x0, y0, x1, y1))
        points = np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float64)
        return points if self.back is None else points @ self.back[:, :2].T + self.back[:, 2]


def eye_line_angle(points: np.ndarray) -> float:
    """Angle (degrees, y down) of the line from the image-left eye's outer corner to the other's, on
    the 68 points (the eyes in image order, as :func:`.align.image_order` puts them)."""
    outer, inner, other_inner, other_outer = (points[i] for i in DLIB_EYE_CORNERS)
    in_order = outer[0] + inner[0] <= other_inner[0] + other_outer[0]
    start, end = (outer, other_outer) if in_order else (other_outer, outer)
    return float(np.degrees(np.arctan2(end[1] - start[1], end[0] - start[0])))


@dataclass(frozen=True)
class FaceFrame:
    """A face's own frame of reference from its 68 points: their centroid, their RMS distance from it
    and the eye line's angle. A box expressed in it (centre offset and half sides in units of that
    distance, along and across the eye line) moves, scales and turns with the face."""

    centre: np.ndarray
    scale: float
    angle: float

    def _axes(self) -> np.ndarray:
        radians = np.radians(self.angle)
        return np.array([[np.cos(radians), -np.sin(radians)], [np.sin(radians), np.cos(radians)]])

    def box_in_frame(self, box: np.ndarray) -> np.ndarray:
        """``box`` (x0, y0, x1, y1, upright in the face's turned crop) as (dx, dy, half width, half height)."""
        centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        offset = self._axes().T @ (centre - self.centre) / self.scale
        return np.array([offset[0], offset[1], (box[2] - box[0]) / 2 / self.scale, (box[3] - box[1]) / 2 / self.scale])

    def box_from_frame(self, box_in_face: np.ndarray) -> np.ndarray:
        centre = self.centre + self._axes() @ box_in_face[:2] * self.scale
        half = box_in_face[2:] * self.scale
        return np.concatenate([centre - half, centre + half])


def box_shift(box: np.ndarray, other: np.ndarray) -> float:
    """How far ``other`` lies from ``box``: the larger of the centres' distance and the sides' difference,
    as a fraction of ``box``'s side."""
    side = max(box[2] - box[0], box[3] - box[1], 1.0)
    centre_distance = float(np.linalg.norm((other[:2] + other[2:]) / 2 - (box[:2] + box[2:]) / 2))
    side_difference = float(np.abs((other[2:] - other[:2]) - (box[2:] - box[:2])).max())
    return max(centre_distance, side_difference) / side


def face_frame(points: np.ndarray) -> FaceFrame:
    centre = points.mean(axis=0)
    scale = max(float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean())), 1e-6)
    return FaceFrame(centre, scale, eye_line_angle(points))


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
    """dlib HOG detector + 68-point ERT shape predictor (reference [18]) on the full-resolution frame.

    ``detect_scale`` a number: one HOG pass on the frame scaled by it (with ``upsample`` doublings).
    ``"auto"``: coarse to fine, so that faces from ``min_face_px`` (dlib box width) up to the whole
    frame are found whatever the frame size: the frame at most AUTO_MAX_SIDE wide; where that finds
    nothing, a finer look around the subject's last box; then the whole frame enlarged.

    ``follow``: the stage may skip HOG between detections (``faces.redetect_every``): :meth:`follow`
    places the next frame's box on the landmarks, and :meth:`detect` looks around the subject's
    last box (``near``) before the whole frame. False: dlib detects every frame.
    """

    method = "dlib"
    n_landmarks = 68

    def __init__(self, detect_scale: float | str = "auto", upsample: int = 0, min_score: float = 0.0,
                 min_face_px: int = 48, follow: bool = False) -> None:
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
        self.follows = bool(follow)

    def detect(self, rgb: np.ndarray, near: np.ndarray | None = None) -> list[Detection]:
        if self.follows and near is not None:
            found = self._run_near(rgb, near, FOLLOW_CROP_SCALE, FOLLOW_FACE_PX)
            if found:
                return found
        height, width = rgb.shape[:2]
        scale = min(1.0, AUTO_MAX_SIDE / max(height, width)) if self.auto else self.detect_scale
        found = self._run(rgb, scale)
        if found or not self.auto:
            return found
        if near is not None:
            found = self._run_near(rgb, near, NEAR_CROP_SCALE, NEAR_FACE_PX)
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

    def _run_near(self, rgb: np.ndarray, near: np.ndarray, crop_scale: float, face_px: int) -> list[Detection]:
        """HOG on a crop ``crop_scale`` times the subject's last box, its face brought to ``face_px``."""
        height, width = rgb.shape[:2]
        side = max(near[2] - near[0], near[3] - near[1], 1.0)
        centre_x, centre_y = (near[0] + near[2]) / 2, (near[1] + near[3]) / 2
        half = crop_scale * side / 2
        x0, y0 = int(max(0, centre_x - half)), int(max(0, centre_y - half))
        x1, y1 = int(min(width, centre_x + half)), int(min(height, centre_y + half))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        return self._run(rgb[y0:y1, x0:x1], face_px / side, origin=(x0, y0))

    def _upright_view(self, rgb: np.ndarray, box: np.ndarray, roll: float) -> "UprightView":
        """The frame itself for an upright head (``roll`` 0), else a crop around ``box`` rotated by
        ``roll`` degrees (the eye line's angle in the image), so the predictor sees the face upright."""
        if abs(roll) < 1e-6:
            return UprightView(rgb, np.asarray(box, dtype=np.float64), None)
        return self._rotated_crop(rgb, box, roll)

    @staticmethod
    def _rotated_crop(rgb: np.ndarray, box: np.ndarray, roll: float) -> "UprightView":
        import cv2

        x0, y0, x1, y1 = box
        side = ROTATED_CROP_SCALE * max(x1 - x0, y1 - y0, 1.0)
        center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        to_crop = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(roll), 1.0)
        to_crop[:, 2] += side / 2 - center
        image = cv2.warpAffine(rgb, to_crop, (int(side), int(side)), flags=cv2.INTER_LINEAR)
        half_width, half_height = (x1 - x0) / 2, (y1 - y0) / 2
        box_in_image = np.array([side / 2 - half_width, side / 2 - half_height,
                                 side / 2 + half_width, side / 2 + half_height])
        return UprightView(image, box_in_image, cv2.invertAffineTransform(to_crop))

    def landmarks(self, rgb: np.ndarray, detection: Detection) -> FaceLandmarks | None:
        # The ERT predictor starts from an upright mean shape and converges poorly on a tilted head
        # (the HOG detector finds faces rolled by ~30 degrees): predict on a crop rotated upright,
        # starting from the roll the detector's filter implies, then from the eye line found.
        # A followed face's box comes from the previous frame: where the fit finds the face moved by
        # FOLLOW_SHIFT_TOLERANCE of its box or more, it is fitted again from the box placed on that fit;
        # a fit that ends further than FOLLOW_MAX_SHIFT from where the face was is no follow (None).
        box, roll = detection.box, detection.roll_hint
        view = self._upright_view(rgb, box, roll)
        points = view.fit(self._predictor)
        for _ in range(self.derotate_passes):
            angle = eye_line_angle(points)
            moved = self._followed_box(points, detection)
            if abs(angle - roll) < ROLL_TOLERANCE and box_shift(box, moved) < FOLLOW_SHIFT_TOLERANCE:
                break
            box, roll = moved, angle
            view = self._upright_view(rgb, box, roll)
            points = view.fit(self._predictor)
        if box_shift(detection.box, self._followed_box(points, detection)) > FOLLOW_MAX_SHIFT:
            return None
        # The eye corners that align the face come from the 5-point model on the same upright view:
        # on real faces it places them more steadily than the 68-point fit (docs/faces.md: on a face
        # with glasses the 68-point inner corners moved by up to 8 px at 224 between frames).
        # Averaged with the fit on the upright crop's mirror image: the fit's left/right bias cancels.
        crop = view if view.back is not None else self._rotated_crop(rgb, box, roll)
        corners = [image_order(each.fit(self._corner_predictor)[list(DLIB5_EYE_CORNERS)])
                   for each in (view, crop.mirrored())]
        eye_corners = (corners[0] + corners[1]) / 2
        span = max(float(np.linalg.norm(eye_corners[3] - eye_corners[0])), 1.0)
        disagreement = float(np.linalg.norm(image_order(points[list(DLIB_EYE_CORNERS)]) - eye_corners, axis=1).max())
        if disagreement > MAX_FIT_DISAGREEMENT * span:
            return None
        return FaceLandmarks(landmarks=points, eye_corners=eye_corners)

    @staticmethod
    def _followed_box(points: np.ndarray, detection: Detection) -> np.ndarray:
        """The box a followed ``detection`` puts on ``points`` (a detector's box as it is)."""
        if detection.box_in_face is None:
            return detection.box
        return face_frame(points).box_from_frame(detection.box_in_face)

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        """With ``follow``: the next frame's box placed on this frame's 68 points as the last HOG box
        sat on the points fitted from it (the ERT fit needs the HOG detector's box convention), its
        roll hint the eye line's angle. None without ``follow``: detect every frame."""
        if not self.follows:
            return None
        frame = face_frame(found.landmarks)
        box_in_face = frame.box_in_frame(detection.box) if detection.box_in_face is None else detection.box_in_face
        return Detection(box=frame.box_from_frame(box_in_face), score=detection.score, roll_hint=frame.angle,
                         box_in_face=box_in_face)

    def close(self) -> None:
        pass
