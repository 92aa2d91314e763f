"""Track A: MediaPipe face detection (full range) and FaceMesh with refined landmarks (478 points) on a
crop around the subject; eye corners are mesh points 33/133 and 362/263."""
from __future__ import annotations

import numpy as np

from .align import image_order
from .detection import Detection, FaceLandmarks

# MediaPipe FaceMesh indices of the eye corners (image-left eye outer/inner, image-right inner/outer).
MEDIAPIPE_EYE_CORNERS: tuple[int, ...] = (33, 133, 362, 263)
# not paper: side of the crop (relative to the detection box) that FaceMesh analyses, and its pixels.
MESH_CROP_SCALE: float = 2.0
MESH_CROP_PIXELS: int = 320
DETECT_MAX_SIDE: int = 384  # MediaPipe detection input (the full-range model itself runs at 192 px)


class MediaPipeFaces:
    """Track A: MediaPipe 0.10.21 face detection + FaceMesh (refined, 478 points), offline models."""

    method = "mediapipe"
    n_landmarks = 478

    def __init__(self, min_detection_confidence: float = 0.5, model_selection: int = 1,
                 min_mesh_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=model_selection, min_detection_confidence=min_detection_confidence
        )
        # static mode: each frame's result depends on that frame only (deterministic, order-free)
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=min_mesh_confidence,
        )

    def detect(self, rgb: np.ndarray, near: np.ndarray | None = None) -> list[Detection]:
        import cv2

        height, width = rgb.shape[:2]
        # the detector sees 192 x 192 anyway: a smaller copy only saves its conversion work
        shrink = DETECT_MAX_SIDE / max(height, width)
        small = cv2.resize(rgb, (round(width * shrink), round(height * shrink)), interpolation=cv2.INTER_AREA) \
            if shrink < 1 else rgb
        result = self._detector.process(small)
        detections = []
        for found in result.detections or []:
            box = found.location_data.relative_bounding_box
            x0, y0 = box.xmin * width, box.ymin * height
            detections.append(Detection(
                box=np.array([x0, y0, x0 + box.width * width, y0 + box.height * height]),
                score=float(found.score[0]) if found.score else 0.0,
            ))
        return detections

    def landmarks(self, rgb: np.ndarray, detection: Detection) -> FaceLandmarks | None:
        import cv2

        # FaceMesh's own detector is short-range: give it a crop where the face fills the view.
        x0, y0, x1, y1 = detection.box
        side = MESH_CROP_SCALE * max(x1 - x0, y1 - y0, 1.0)
        crop_pixels = int(min(MESH_CROP_PIXELS, max(64, round(side))))
        scale = crop_pixels / side
        center_x, center_y = (x0 + x1) / 2, (y0 + y1) / 2
        to_crop = np.array([[scale, 0, crop_pixels / 2 - scale * center_x],
                            [0, scale, crop_pixels / 2 - scale * center_y]])
        crop = cv2.warpAffine(rgb, to_crop, (crop_pixels, crop_pixels), flags=cv2.INTER_AREA
                              if scale < 1 else cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        result = self._mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        points = np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark], dtype=np.float64)
        points *= crop_pixels
        points = (points - to_crop[:, 2]) / scale
        return FaceLandmarks(landmarks=points, eye_corners=image_order(points[list(MEDIAPIPE_EYE_CORNERS)]))

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        # the mesh crop is twice the box: the mesh's own bounding box keeps the face well inside it
        points = found.landmarks
        return Detection(box=np.concatenate([points.min(axis=0), points.max(axis=0)]), score=detection.score)

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()
