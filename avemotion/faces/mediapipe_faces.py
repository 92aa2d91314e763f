"""Track A: MediaPipe face detection (full range) and FaceMesh with refined landmarks (478 points) on a
crop around the subject; eye corners are mesh points 33/133 and 362/263.

When the full-range model finds no face, the short-range model looks again: first on a square
crop around the subject's last box (``near``), where a turned or dim face fills a good part of its 128-px
input, then on the whole frame, where a near face (larger than the full-range model's range) is in its
range. A face found that way is kept only if FaceMesh fits landmarks on it: on frames without a face the
short-range model on a crop answers on textures now and then (~4 % of 320 crops of 40 no-face images,
scores 0.50-0.78) and FaceMesh rejected all of those but one (a round headlight). The landmarks fitted by
that check are kept for :meth:`landmarks`, so it costs nothing for a face that stays.
"""
from __future__ import annotations

import numpy as np

from .align import image_order, square_crop
from .detection import Detection, FaceLandmarks

# MediaPipe FaceMesh indices of the eye corners (image-left eye outer/inner, image-right inner/outer).
MEDIAPIPE_EYE_CORNERS: tuple[int, ...] = (33, 133, 362, 263)
# not paper: side of the crop (relative to the detection box) that FaceMesh analyses, and its pixels.
MESH_CROP_SCALE: float = 2.0
MESH_CROP_PIXELS: int = 320
DETECT_MAX_SIDE: int = 384  # MediaPipe detection input (the full-range model itself runs at 192 px)
NEAR_CROP_PIXELS: int = 256  # the crop around the last box (the short-range model itself runs at 128 px)


class MediaPipeFaces:
    """Track A: MediaPipe 0.10.21 face detection + FaceMesh (refined, 478 points), offline models.

    ``model_selection``: 1 full range (faces up to ~5 m, small in the frame), 0 short range (~2 m).
    ``fallback``: when that model finds no face, look again with the short-range model on a crop of
    ``near_crop_scale`` times the subject's last box, then with the other model on the whole frame
    (only faces FaceMesh can fit landmarks on are kept). False: the model's answer only.
    """

    method = "mediapipe"
    n_landmarks = 478

    def __init__(self, min_detection_confidence: float = 0.5, model_selection: int = 1,
                 min_mesh_confidence: float = 0.5, fallback: bool = True, near_crop_scale: float = 2.0) -> None:
        import mediapipe as mp

        if model_selection not in (0, 1):
            raise ValueError(f"model_selection must be 0 (short range) or 1 (full range), not {model_selection!r}")
        self.fallback = fallback
        self.near_crop_scale = float(near_crop_scale)
        self._models: dict[int, object] = {}

        def model(selection: int):
            if selection not in self._models:
                self._models[selection] = mp.solutions.face_detection.FaceDetection(
                    model_selection=selection, min_detection_confidence=min_detection_confidence)
            return self._models[selection]

        self._detector = model(model_selection)
        self._crop_detector = model(0) if fallback else None
        self._other_detector = model(1 - model_selection) if fallback else None
        # static mode: each frame's result depends on that frame only (deterministic, order-free)
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=min_mesh_confidence,
        )
        # landmarks fitted while checking a fallback face: (frame, [(detection, landmarks)]) of the last detect()
        self._checked: tuple[np.ndarray, list[tuple[Detection, FaceLandmarks]]] | None = None

    @staticmethod
    def _run(detector, image: np.ndarray, to_image: np.ndarray) -> list[Detection]:
        """``detector`` on ``image``; boxes mapped back to source pixels (``to_image``: source to image,
        2 x 3, scale and shift only)."""
        result = detector.process(image)
        height, width = image.shape[:2]
        detections = []
        for found in result.detections or []:
            box = found.location_data.relative_bounding_box
            corners = np.array([[box.xmin * width, box.ymin * height],
                                [(box.xmin + box.width) * width, (box.ymin + box.height) * height]])
            corners = (corners - to_image[:, 2]) / np.diag(to_image[:, :2])
            detections.append(Detection(box=corners.ravel(), score=float(found.score[0]) if found.score else 0.0))
        return detections

    def detect(self, rgb: np.ndarray, near: np.ndarray | None = None) -> list[Detection]:
        import cv2

        self._checked = None
        height, width = rgb.shape[:2]
        # the detector sees 192 x 192 anyway: a smaller copy only saves its conversion work
        shrink = min(1.0, DETECT_MAX_SIDE / max(height, width))
        small = cv2.resize(rgb, (round(width * shrink), round(height * shrink)), interpolation=cv2.INTER_AREA) \
            if shrink < 1 else rgb
        to_small = np.array([[small.shape[1] / width, 0, 0], [0, small.shape[0] / height, 0]])
        detections = self._run(self._detector, small, to_small)
        if detections or not self.fallback:
            return detections
        # a miss: a turned or dim face around the subject's last place, then a face too near for the model
        checked: list[tuple[Detection, FaceLandmarks]] = []
        if near is not None:
            x0, y0, x1, y1 = np.asarray(near, dtype=float)
            side = self.near_crop_scale * max(x1 - x0, y1 - y0, 1.0)
            crop, to_crop = square_crop(rgb, ((x0 + x1) / 2, (y0 + y1) / 2), side, NEAR_CROP_PIXELS)
            checked = self._check(rgb, self._run(self._crop_detector, crop, to_crop))
        if not checked:
            checked = self._check(rgb, self._run(self._other_detector, small, to_small))
        self._checked = (rgb, checked)
        return [detection for detection, _ in checked]

    def _check(self, rgb: np.ndarray, detections: list[Detection]) -> list[tuple[Detection, FaceLandmarks]]:
        """The fallback's faces that FaceMesh fits landmarks on, with those landmarks."""
        checked = []
        for detection in detections:
            found = self._fit(rgb, detection)
            if found is not None:
                checked.append((detection, found))
        return checked

    def landmarks(self, rgb: np.ndarray, detection: Detection) -> FaceLandmarks | None:
        if self._checked is not None and self._checked[0] is rgb:
            for checked, found in self._checked[1]:
                if checked is detection:
                    return found
        return self._fit(rgb, detection)

    def _fit(self, rgb: np.ndarray, detection: Detection) -> FaceLandmarks | None:
        # FaceMesh's own detector is short-range: give it a crop where the face fills the view.
        x0, y0, x1, y1 = detection.box
        side = MESH_CROP_SCALE * max(x1 - x0, y1 - y0, 1.0)
        crop_pixels = int(min(MESH_CROP_PIXELS, max(64, round(side))))
        crop, to_crop = square_crop(rgb, ((x0 + x1) / 2, (y0 + y1) / 2), side, crop_pixels)
        result = self._mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        points = np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark], dtype=np.float64)
        points *= crop_pixels
        points = (points - to_crop[:, 2]) / to_crop[0, 0]
        return FaceLandmarks(landmarks=points, eye_corners=image_order(points[list(MEDIAPIPE_EYE_CORNERS)]))

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        # the mesh crop is twice the box: the mesh's own bounding box keeps the face well inside it
        points = found.landmarks
        return Detection(box=np.concatenate([points.min(axis=0), points.max(axis=0)]), score=detection.score)

    def close(self) -> None:
        self._checked = None
        for model in self._models.values():
            model.close()
        self._mesh.close()
