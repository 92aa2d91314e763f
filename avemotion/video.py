"""Face stage (paper section 2.1): faces and landmarks in every frame of the 60-fps timeline, aligned
by a transform that maps the eye corners of every face to the same positions, stored per clip as an
HDF5 face stack (README, "Artifacts").

Two face tracks, as the paper trains two VGG-LSTMs on faces from two different methods:

* track A, ``mediapipe``: MediaPipe face detection (full range) finds the faces; FaceMesh with refined
  landmarks (478 points) runs on a crop around the subject; eye corners are mesh points 33/133 and
  362/263.
* track B, ``dlib``: dlib's HOG detector on a downscaled frame and the 68-point ERT shape predictor
  (Kazemi & Sullivan, the paper's reference [18]); eye corners are points 36/39 and 42/45.
  Or ``dataset``: the dataset's own aligned face crops (AFEW ships them), see
  :func:`find_dataset_face_images` for the accepted layout.

Work is per unique source frame: a 25-fps clip on the 60-fps timeline repeats frames, each one is
decoded and analysed once and the timeline stores, for every 60-fps frame, the row of its face (or -1).
Frames stream through a bounded queue filled by a decoding thread, so memory stays flat in clip length
and decoding overlaps analysis.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import queue
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from .artifacts import STATUS_OK, STATUS_QUARANTINED, atomic_output, read_status, set_status, write_tsv
from .constants import CLASSES, FACE_TRACKS

log = logging.getLogger(__name__)

# not paper: eye-corner template, as fractions of the crop side, in image order (left to right):
# outer and inner corner of the eye on the image's left, inner and outer corner of the other eye.
# Outer-to-outer spans 42 % of the crop, eyes at 40 % height: the crop holds brows to chin.
EYE_CORNER_TEMPLATE: np.ndarray = np.array(
    [[0.29, 0.40], [0.43, 0.40], [0.57, 0.40], [0.71, 0.40]], dtype=np.float64
)
# MediaPipe FaceMesh indices of the eye corners (image-left eye outer/inner, image-right inner/outer).
MEDIAPIPE_EYE_CORNERS: tuple[int, ...] = (33, 133, 362, 263)
# dlib 68-point (iBUG 300-W) indices of the same corners.
DLIB_EYE_CORNERS: tuple[int, ...] = (36, 39, 42, 45)
# dlib's frontal detector has five HOG filters; 3 and 4 find heads rolled to one side or the other:
# the roll (eye-line angle, degrees, y down) they imply seeds the landmark fit.
DLIB_FILTER_ROLL: dict[int, float] = {3: -25.0, 4: 25.0}
# not paper: side of the crop (relative to the detection box) that FaceMesh analyses, and its pixels.
MESH_CROP_SCALE: float = 2.0
MESH_CROP_PIXELS: int = 320
DETECT_MAX_SIDE: int = 384  # MediaPipe detection input (the full-range model itself runs at 192 px)
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp")
FACE_INDEX_COLUMNS: tuple[str, ...] = (
    "clip_id", "split", "label", "status", "reason", "n_unique_frames", "n_faces", "detection_rate",
)


# --------------------------------------------------------------------------------------------------
# Timeline and frame streaming


@dataclass(frozen=True)
class Timeline:
    """The media stage's ``{clip}.timeline.json``: which source frame each 60-fps frame shows."""

    clip_id: str
    source_fps: float
    timeline: np.ndarray  # int [T] source frame index per 60-fps frame
    unique_frames: np.ndarray  # int [N] sorted unique source frame indices

    @classmethod
    def read(cls, path: str | Path) -> "Timeline":
        data = json.loads(Path(path).read_text())
        return cls(
            clip_id=str(data["clip_id"]),
            source_fps=float(data.get("source_fps", 0.0)),
            timeline=np.asarray(data["timeline"], dtype=np.int64).reshape(-1),
            unique_frames=np.asarray(sorted(set(int(i) for i in data["unique_frames"])), dtype=np.int64),
        )


def iter_source_frames(video_path: str | Path, wanted: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the clip once with PyAV and yield ``(source frame index, RGB uint8 [H, W, 3])`` for the
    wanted frames only (counted in decoding order from 0, as the media stage counts them).

    Decoding stops after the last wanted frame; frames not wanted are decoded (inter-coded video needs
    them) but never converted to RGB.
    """
    import av

    wanted_set = set(int(i) for i in wanted)
    if not wanted_set:
        return
    last = max(wanted_set)
    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted_set:
                yield index, frame.to_ndarray(format="rgb24")
            if index >= last:
                break


def prefetch(items: Iterator, maxsize: int = 8) -> Iterator:
    """Run ``items`` in a reader thread through a bounded queue (overlaps decoding with analysis;
    at most ``maxsize`` frames wait in memory). Exceptions of the reader reach the consumer."""
    buffer: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
    done = object()
    stop = threading.Event()

    def reader() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("done", done))
        except BaseException as error:  # handed to the consumer, re-raised there
            buffer.put(("error", error))

    thread = threading.Thread(target=reader, name="frame-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = buffer.get()
            if kind == "item":
                yield payload
            elif kind == "error":
                raise payload
            else:
                return
    finally:
        stop.set()
        while thread.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


# --------------------------------------------------------------------------------------------------
# Alignment (section 2.1: a 2D transform maps the eye corners of every face to the same positions)


def eye_corner_template(size: int) -> np.ndarray:
    """The four target eye-corner positions (pixels, float [4, 2]) in a ``size`` x ``size`` crop."""
    return EYE_CORNER_TEMPLATE * float(size)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``source`` points onto
    ``target`` points (closed form, Umeyama without reflection); returns the 2 x 3 matrix."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_mean, target - target_mean
    # complex-number form: target ~ a * source with a = scale * exp(i * angle)
    sc = s[:, 0] + 1j * s[:, 1]
    tc = t[:, 0] + 1j * t[:, 1]
    a = np.vdot(sc, tc) / max(np.vdot(sc, sc).real, 1e-12)
    rotation_scale = np.array([[a.real, -a.imag], [a.imag, a.real]])
    translation = target_mean - rotation_scale @ source_mean
    return np.hstack([rotation_scale, translation[:, None]])


def align_face(rgb: np.ndarray, eye_corners: np.ndarray, size: int) -> np.ndarray:
    """Warp ``rgb`` so that the four eye corners land on :func:`eye_corner_template`; uint8 [S, S, 3]."""
    import cv2

    matrix = similarity_transform(eye_corners, eye_corner_template(size))
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# --------------------------------------------------------------------------------------------------
# Detectors


@dataclass
class Detection:
    """One face candidate: box (x0, y0, x1, y1) in source pixels and the detector's score."""

    box: np.ndarray
    score: float
    roll_hint: float = 0.0  # degrees of the eye line, when the detector knows the head is tilted

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

    def detect(self, rgb: np.ndarray) -> list[Detection]: ...

    def landmarks(self, rgb: np.ndarray, detection: Detection) -> FaceLandmarks | None: ...

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        """Where to look for this face in the next frame without the detector (None: detect again)."""
        ...

    def close(self) -> None: ...


def _image_order(corners: np.ndarray) -> np.ndarray:
    """Order the two eyes left to right in the image (a face seen upside down or mirrored by a
    detector's convention still maps onto the template consistently)."""
    first, second = corners[:2], corners[2:]
    if first.mean(axis=0)[0] > second.mean(axis=0)[0]:
        first, second = second[::-1], first[::-1]
    return np.vstack([first, second])


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

    def detect(self, rgb: np.ndarray) -> list[Detection]:
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
        return FaceLandmarks(landmarks=points, eye_corners=_image_order(points[list(MEDIAPIPE_EYE_CORNERS)]))

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        # the mesh crop is twice the box: the mesh's own bounding box keeps the face well inside it
        points = found.landmarks
        return Detection(box=np.concatenate([points.min(axis=0), points.max(axis=0)]), score=detection.score)

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()


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

    def detect(self, rgb: np.ndarray) -> list[Detection]:
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
            side = MESH_CROP_SCALE * max(x1 - x0, y1 - y0, 1.0)
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
            corners = _image_order(points[list(DLIB_EYE_CORNERS)])
            dx, dy = corners[3] - corners[0]
            angle = float(np.degrees(np.arctan2(dy, dx)))
            if abs(angle - roll) < 2.0:
                break
            roll = angle
            points = self._predict(rgb, detection.box, roll)
        return FaceLandmarks(landmarks=points, eye_corners=_image_order(points[list(DLIB_EYE_CORNERS)]))

    def follow(self, found: FaceLandmarks, detection: Detection) -> Detection | None:
        return None  # the ERT fit needs the HOG detector's box convention: detect every frame

    def close(self) -> None:
        pass


def make_analyzer(track_settings: Mapping, min_detection_confidence: float) -> FaceAnalyzer:
    """The analyzer a track's config block selects (``method``: mediapipe | dlib)."""
    method = track_settings["method"]
    if method == "mediapipe":
        return MediaPipeFaces(min_detection_confidence=min_detection_confidence,
                              model_selection=int(track_settings.get("model_selection", 1)))
    if method == "dlib":
        return DlibFaces(detect_scale=float(track_settings.get("detect_scale", 0.5)),
                         upsample=int(track_settings.get("upsample", 0)),
                         min_score=float(track_settings.get("min_score", 0.0)))
    raise ValueError(f"face method {method!r} has no frame analyzer (mediapipe | dlib)")


def library_versions(method: str) -> dict[str, str]:
    """Versions of the libraries a method's faces depend on (stored in the HDF5 attrs)."""
    packages = {"mediapipe": ["mediapipe", "opencv-contrib-python", "av"],
                "dlib": ["dlib-bin", "face_recognition_models", "opencv-contrib-python", "av"],
                "dataset": ["opencv-contrib-python"]}[method] + ["numpy", "h5py"]
    versions = {}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


# --------------------------------------------------------------------------------------------------
# Subject selection (several faces in a frame: keep the largest and most consistent over time)


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


# --------------------------------------------------------------------------------------------------
# HDF5 face stack


class FaceStackWriter:
    """Appends aligned faces to an open HDF5 file in small batches (memory flat in clip length).

    Faces are stored one gzip chunk per face; the deflate runs in a worker thread (zlib releases the
    GIL) and the chunks are written as they are, so compression overlaps the next frame's analysis.
    """

    def __init__(self, handle, size: int, n_landmarks: int, batch: int = 16, gzip_level: int = 1) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.handle = handle
        self.faces = handle.create_dataset("faces", shape=(0, size, size, 3), maxshape=(None, size, size, 3),
                                           dtype=np.uint8, chunks=(1, size, size, 3), compression="gzip",
                                           compression_opts=gzip_level)
        self.frame_index = handle.create_dataset("frame_index", shape=(0,), maxshape=(None,), dtype=np.int32)
        self.landmarks = handle.create_dataset("landmarks", shape=(0, n_landmarks, 2), maxshape=(None, n_landmarks, 2),
                                               dtype=np.float32, **({"compression": "gzip"} if n_landmarks else {}))
        self.eye_corners = handle.create_dataset("eye_corners", shape=(0, 4, 2), maxshape=(None, 4, 2), dtype=np.float32)
        self.scores = handle.create_dataset("scores", shape=(0,), maxshape=(None,), dtype=np.float32)
        self.batch = batch
        self.gzip_level = gzip_level
        self._compressor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-gzip")
        self._pending: list[tuple[int, object, np.ndarray, np.ndarray, float]] = []
        self.n_rows = 0

    def add(self, frame: int, face: np.ndarray, landmarks: np.ndarray, eye_corners: np.ndarray, score: float) -> None:
        import zlib

        compressed = self._compressor.submit(zlib.compress, np.ascontiguousarray(face, dtype=np.uint8).tobytes(),
                                             self.gzip_level)
        self._pending.append((frame, compressed, landmarks, eye_corners, score))
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        start, stop = self.n_rows, self.n_rows + len(self._pending)
        frames, compressed, landmarks, corners, scores = zip(*self._pending)
        for dataset, values in ((self.frame_index, frames), (self.landmarks, landmarks),
                                (self.eye_corners, corners), (self.scores, scores)):
            dataset.resize(stop, axis=0)
            dataset[start:stop] = np.asarray(values)
        self.faces.resize(stop, axis=0)
        for row, chunk in zip(range(start, stop), compressed):
            self.faces.id.write_direct_chunk((row, 0, 0, 0), chunk.result())
        self.n_rows = stop
        self._pending.clear()

    def finish(self, timeline: np.ndarray) -> np.ndarray:
        """Write ``timeline``: for each 60-fps frame the row of its source frame's face, or -1."""
        self.flush()
        self._compressor.shutdown()
        rows = {int(frame): row for row, frame in enumerate(self.frame_index[:])}
        mapped = np.array([rows.get(int(frame), -1) for frame in timeline], dtype=np.int32)
        self.handle.create_dataset("timeline", data=mapped)
        return mapped


@dataclass
class FaceTrackResult:
    status: str
    reason: str
    n_unique_frames: int
    n_faces: int

    @property
    def detection_rate(self) -> float:
        return self.n_faces / self.n_unique_frames if self.n_unique_frames else 0.0


def _finish_stack(handle, writer: FaceStackWriter, timeline: Timeline, method: str, size: int, track: str,
                  failure: str | None, extra_attrs: Mapping[str, object] | None = None) -> FaceTrackResult:
    writer.finish(timeline.timeline)
    n_unique = int(len(timeline.unique_frames))
    result = FaceTrackResult(STATUS_OK, "", n_unique, writer.n_rows)
    if failure:
        result.status, result.reason = STATUS_QUARANTINED, f"clip {timeline.clip_id}: {failure}"
    elif n_unique == 0:
        result.status, result.reason = STATUS_QUARANTINED, f"clip {timeline.clip_id}: no video frames on its timeline"
    elif writer.n_rows == 0:
        result.status = STATUS_QUARANTINED
        result.reason = (f"clip {timeline.clip_id}: no face detected in any of {n_unique} frames "
                         f"(track {track}, {method})")
    set_status(handle, result.status, result.reason)
    handle.attrs["clip_id"] = timeline.clip_id
    handle.attrs["track"] = track
    handle.attrs["method"] = method
    handle.attrs["size"] = int(size)
    handle.attrs["versions"] = json.dumps(library_versions(method), sort_keys=True)
    handle.attrs["detection_rate"] = float(result.detection_rate)
    handle.attrs["n_unique_frames"] = n_unique
    handle.attrs["eye_corner_template"] = eye_corner_template(size).astype(np.float32)
    for key, value in (extra_attrs or {}).items():
        handle.attrs[key] = value
    return result


def extract_faces_from_video(video_path: str | Path, timeline: Timeline, out_path: str | Path, analyzer: FaceAnalyzer,
                             size: int, track: str = "a", queue_size: int = 8,
                             redetect_every: int = 1) -> FaceTrackResult:
    """Detect, landmark and align the subject's face in every unique source frame of a clip and write
    the face stack (section 2.1). Never raises for a bad clip: it is written quarantined with a reason.

    With ``redetect_every`` = k > 1 and an analyzer that can follow a face (MediaPipe), the detector runs
    on every k-th frame only; in between, the landmarks are fitted around the subject's previous face,
    and a frame where that fails is detected afresh (so no face is lost to the shortcut).
    """
    import h5py

    tracker = SubjectTracker()
    failure = None
    n_decoded = 0
    with atomic_output(out_path, suffix=".h5") as tmp, h5py.File(tmp, "w") as handle:
        writer = FaceStackWriter(handle, size, analyzer.n_landmarks)
        try:
            followed: Detection | None = None
            frames_since_detection = 0
            for frame_index, rgb in prefetch(iter_source_frames(video_path, timeline.unique_frames), queue_size):
                n_decoded += 1
                found, subject = None, followed
                if followed is not None and frames_since_detection < redetect_every:
                    found = analyzer.landmarks(rgb, followed)
                    frames_since_detection += 1
                if found is None:
                    subject = tracker.choose(analyzer.detect(rgb))
                    frames_since_detection = 1
                    found = analyzer.landmarks(rgb, subject) if subject is not None else None
                if found is None or subject is None:
                    followed = None
                    continue
                tracker.previous_box = subject.box
                followed = analyzer.follow(found, subject) if redetect_every > 1 else None
                writer.add(frame_index, align_face(rgb, found.eye_corners, size), found.landmarks,
                           found.eye_corners, subject.score)
        except Exception as error:  # a clip PyAV cannot decode is quarantined, not a crash
            log.exception("clip %s: decoding/analysis failed", timeline.clip_id)
            failure = f"video could not be decoded after {n_decoded} frames ({type(error).__name__}: {error})"
        if failure is None and n_decoded < len(timeline.unique_frames):
            log.warning("clip %s: %d of %d timeline frames not in the video (counted as without face)",
                        timeline.clip_id, len(timeline.unique_frames) - n_decoded, len(timeline.unique_frames))
        result = _finish_stack(handle, writer, timeline, analyzer.method, size, track, failure,
                               {"n_frames_decoded": n_decoded})
    log.info("clip %s track %s: %d faces in %d unique frames (%s)", timeline.clip_id, track, result.n_faces,
             result.n_unique_frames, result.status)
    return result


# --------------------------------------------------------------------------------------------------
# Track B from the dataset's own face crops


def find_dataset_face_images(faces_dir: str | Path, clip_id: str) -> dict[int, Path]:
    """The dataset's aligned face images of one clip, as {source frame index: image path}.

    Accepted layout: a folder named exactly like the clip id, directly in ``faces_dir`` or anywhere
    below it (AFEW: ``Faces/Train/Angry/<clip_id>/``), holding .png/.jpg/.jpeg/.bmp images whose file
    name ends in the 0-based source frame number (``000012.png``, ``frame_12.jpg``, ``<clip_id>_12.png``).
    Images without a number are ignored; a frame with several images keeps the first by name.
    """
    root = Path(faces_dir)
    folder = root / clip_id
    if not folder.is_dir():
        matches = sorted(p for p in root.rglob(clip_id) if p.is_dir())
        if not matches:
            return {}
        folder = matches[0]
    images: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        number = re.search(r"(\d+)$", path.stem)
        if path.suffix.lower() in IMAGE_SUFFIXES and number:
            images.setdefault(int(number.group(1)), path)
    return images


def extract_faces_from_dataset(faces_dir: str | Path, timeline: Timeline, out_path: str | Path, size: int,
                               track: str = "b", frame_offset: int = 0) -> FaceTrackResult:
    """Track B from the dataset's aligned crops, resized to ``size``; frame number + ``frame_offset``
    gives the source frame index. No landmarks (K = 0); eye corners NaN; scores 1."""
    import cv2
    import h5py

    images = find_dataset_face_images(faces_dir, timeline.clip_id)
    wanted = set(int(i) for i in timeline.unique_frames)
    failure = None if images else f"no face folder named {timeline.clip_id!r} under {faces_dir}"
    with atomic_output(out_path, suffix=".h5") as tmp, h5py.File(tmp, "w") as handle:
        writer = FaceStackWriter(handle, size, 0)
        for number, path in sorted(images.items()):
            frame = number + frame_offset
            if frame not in wanted:
                continue
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                log.warning("clip %s: unreadable face image %s skipped", timeline.clip_id, path)
                continue
            face = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (size, size), interpolation=cv2.INTER_AREA)
            writer.add(frame, face, np.zeros((0, 2)), np.full((4, 2), np.nan), 1.0)
        result = _finish_stack(handle, writer, timeline, "dataset", size, track, failure,
                               {"dataset_faces_dir": str(faces_dir)})
    return result


def extract_face_track(video_path: str | Path, timeline_path: str | Path, out_path: str | Path,
                       settings: Mapping, track: str) -> FaceTrackResult:
    """Entry point of the ``faces`` rule: ``settings`` is :func:`track_settings`'s block for ``track``."""
    timeline = Timeline.read(timeline_path)
    size = int(settings["size"])
    method_settings = settings["method_settings"]
    if method_settings["method"] == "dataset":
        return extract_faces_from_dataset(method_settings["dataset_faces_dir"], timeline, out_path, size, track,
                                          int(method_settings.get("dataset_frame_offset", 0)))
    analyzer = make_analyzer(method_settings, float(settings["min_detection_confidence"]))
    try:
        return extract_faces_from_video(video_path, timeline, out_path, analyzer, size, track,
                                        int(settings.get("queue_size", 8)), int(settings.get("redetect_every", 1)))
    finally:
        analyzer.close()


def track_settings(faces_config: Mapping, track: str) -> dict:
    """The part of the ``faces:`` config block one track uses (the rule's params: editing track A's
    settings reruns only track A). ``track_b.dataset_faces_dir`` set switches track B to the dataset."""
    block = dict(faces_config[f"track_{track}"])
    if block.get("dataset_faces_dir"):
        block = {"method": "dataset", "dataset_faces_dir": block["dataset_faces_dir"],
                 "dataset_frame_offset": block.get("dataset_frame_offset", 0)}
    else:
        block.pop("dataset_faces_dir", None)
        block.pop("dataset_frame_offset", None)
    return {"size": faces_config["size"], "min_detection_confidence": faces_config["min_detection_confidence"],
            "queue_size": faces_config.get("queue_size", 8),
            "redetect_every": faces_config.get("redetect_every", 1), "method_settings": block}


# --------------------------------------------------------------------------------------------------
# Readers, index and QC


@dataclass
class FaceStack:
    faces: np.ndarray
    frame_index: np.ndarray
    timeline: np.ndarray
    status: str
    reason: str

    def timeline_faces(self) -> np.ndarray:
        """Bool [T]: which 60-fps frames have a face (the per-frame mask)."""
        return self.timeline >= 0


def read_face_stack(path: str | Path) -> FaceStack:
    """Read a clip's face stack (faces loaded fully: they are small per clip)."""
    import h5py

    with h5py.File(path, "r") as handle:
        return FaceStack(faces=handle["faces"][:], frame_index=handle["frame_index"][:],
                         timeline=handle["timeline"][:], status=str(handle.attrs["status"]),
                         reason=str(handle.attrs["reason"]))


def face_index_row(path: str | Path, manifest_row: Mapping[str, str]) -> dict[str, object]:
    import h5py

    with h5py.File(path, "r") as handle:
        return {
            "clip_id": manifest_row["clip_id"], "split": manifest_row["split"], "label": manifest_row["label"],
            "status": str(handle.attrs["status"]), "reason": str(handle.attrs["reason"]),
            "n_unique_frames": int(handle.attrs["n_unique_frames"]), "n_faces": int(handle["faces"].shape[0]),
            "detection_rate": round(float(handle.attrs["detection_rate"]), 4),
        }


def write_face_index(manifest: Sequence[Mapping[str, str]], stack_paths: Sequence[str | Path], out_path: str | Path) -> None:
    """``results/faces/{track}/index.tsv``: one row per manifest clip (stack file named ``{clip_id}.h5``)."""
    by_clip = {Path(p).stem: p for p in stack_paths}
    rows = []
    for row in manifest:
        if row["clip_id"] not in by_clip:
            raise ValueError(f"clip {row['clip_id']} has no face stack among the inputs")
        rows.append(face_index_row(by_clip[row["clip_id"]], row))
    write_tsv(out_path, FACE_INDEX_COLUMNS, rows)


def write_detection_table(manifest: Sequence[Mapping[str, str]], stacks: Mapping[str, Sequence[str | Path]],
                          out_path: str | Path) -> None:
    """QC table: per clip and track, status, faces found and detection rate."""
    columns = ["clip_id", "split", "label"]
    for track in stacks:
        columns += [f"{track}_status", f"{track}_n_faces", f"{track}_detection_rate"]
    columns.append("n_unique_frames")
    by_track = {track: {Path(p).stem: p for p in paths} for track, paths in stacks.items()}
    rows = []
    for row in manifest:
        cells: dict[str, object] = {k: row[k] for k in ("clip_id", "split", "label")}
        for track, paths in by_track.items():
            info = face_index_row(paths[row["clip_id"]], row)
            cells.update({f"{track}_status": info["status"], f"{track}_n_faces": info["n_faces"],
                          f"{track}_detection_rate": info["detection_rate"]})
            cells["n_unique_frames"] = info["n_unique_frames"]
        rows.append(cells)
    write_tsv(out_path, columns, rows)


def _middle_face(path: str | Path) -> np.ndarray | None:
    import h5py

    with h5py.File(path, "r") as handle:
        count = handle["faces"].shape[0]
        return handle["faces"][count // 2] if count else None


def write_montage(manifest: Sequence[Mapping[str, str]], stacks: Mapping[str, Sequence[str | Path]], split: str,
                  out_path: str | Path, per_class: int = 4) -> None:
    """QC picture: for one split, the middle aligned face of up to ``per_class`` clips per class
    (rows: AN..SU), one panel per track side by side; grey tiles where a clip has no face."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_track = {track: {Path(p).stem: p for p in paths} for track, paths in stacks.items()}
    clips = {label: [r["clip_id"] for r in manifest if r["split"] == split and r["label"] == label][:per_class]
             for label in CLASSES}
    figure, axes = plt.subplots(1, len(by_track), figsize=(len(by_track) * (0.9 * per_class + 0.8), 0.9 * len(CLASSES) + 0.8),
                                squeeze=False)
    for axis, (track, paths) in zip(axes[0], by_track.items()):
        tile = 64
        canvas = np.full((tile * len(CLASSES), tile * per_class, 3), 128, dtype=np.uint8)
        for row, label in enumerate(CLASSES):
            for column, clip in enumerate(clips[label]):
                face = _middle_face(paths[clip]) if clip in paths else None
                if face is not None:
                    import cv2

                    canvas[row * tile:(row + 1) * tile, column * tile:(column + 1) * tile] = cv2.resize(
                        face, (tile, tile), interpolation=cv2.INTER_AREA)
        axis.imshow(canvas)
        axis.set_yticks([tile * (i + 0.5) for i in range(len(CLASSES))], list(CLASSES))
        axis.set_xticks([])
        axis.set_title(f"track {track}")
    n_clips = sum(len(v) for v in clips.values())
    figure.suptitle(f"aligned faces, {split} split ({n_clips} clips shown)" if n_clips else f"{split}: no clips")
    figure.tight_layout()
    with atomic_output(out_path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def write_face_qc(manifest: Sequence[Mapping[str, str]], stacks: Mapping[str, Sequence[str | Path]],
                  montages: Mapping[str, str | Path], detection_table: str | Path) -> None:
    """Entry point of the ``faces_qc`` rule: one montage per split and the detection table."""
    for split, path in montages.items():
        write_montage(manifest, stacks, split, path)
    write_detection_table(manifest, stacks, detection_table)


__all__ = [
    "Timeline", "iter_source_frames", "prefetch", "eye_corner_template", "similarity_transform", "align_face",
    "Detection", "FaceLandmarks", "MediaPipeFaces", "DlibFaces", "make_analyzer", "SubjectTracker",
    "extract_faces_from_video", "extract_faces_from_dataset", "find_dataset_face_images", "extract_face_track",
    "track_settings", "FaceStack", "read_face_stack", "write_face_index", "write_face_qc", "FACE_TRACKS",
    "STATUS_OK", "STATUS_QUARANTINED", "read_status",
]
