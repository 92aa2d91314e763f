"""The HDF5 face stack of one clip and track (docs/artifacts.md): aligned faces once per unique
source frame, the 60-fps timeline of face rows, landmarks, eye corners, scores, status."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..artifacts import STATUS_OK, STATUS_QUARANTINED, library_versions, set_status
from ..constants import TIMELINE_FPS
from .align import eye_corner_template
from .frames import Timeline


# the libraries each method's faces depend on (the stack's ``versions`` attr)
METHOD_LIBRARIES: dict[str, tuple[str, ...]] = {
    "mediapipe": ("mediapipe", "opencv-contrib-python", "av", "numpy", "h5py"),
    "dlib": ("dlib-bin", "face_recognition_models", "opencv-contrib-python", "av", "numpy", "h5py"),
    "dataset": ("opencv-contrib-python", "numpy", "h5py"),
}


class FaceStackWriter:
    """Appends aligned faces to an open HDF5 file in small batches (memory flat in clip length).

    Faces are stored one chunk per face, gzip at ``gzip_level`` (config ``faces.gzip_level``); the
    deflate runs in a worker thread (zlib releases the GIL) and the chunks are written as they are, so
    compression overlaps the next frame's analysis. ``gzip_level`` 0: no compression filter, the
    chunks hold the faces' bytes as they are.
    """

    def __init__(self, handle, size: int, n_landmarks: int, batch: int = 16, gzip_level: int = 1) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.handle = handle
        compression = {"compression": "gzip", "compression_opts": gzip_level} if gzip_level > 0 else {}
        self.faces = handle.create_dataset("faces", shape=(0, size, size, 3), maxshape=(None, size, size, 3),
                                           dtype=np.uint8, chunks=(1, size, size, 3), **compression)
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
        data = np.ascontiguousarray(face, dtype=np.uint8).tobytes()
        chunk = self._compressor.submit(self.deflate, data) if self.gzip_level > 0 else data
        self._pending.append((frame, chunk, landmarks, eye_corners, score))
        if len(self._pending) >= self.batch:
            self.flush()

    def deflate(self, data: bytes) -> bytes:
        """One face's chunk as HDF5's gzip filter stores it (run in the worker thread)."""
        import zlib

        return zlib.compress(data, self.gzip_level)

    def flush(self) -> None:
        if not self._pending:
            return
        start, stop = self.n_rows, self.n_rows + len(self._pending)
        frames, chunks, landmarks, corners, scores = zip(*self._pending)
        for dataset, values in ((self.frame_index, frames), (self.landmarks, landmarks),
                                (self.eye_corners, corners), (self.scores, scores)):
            dataset.resize(stop, axis=0)
            dataset[start:stop] = np.asarray(values)
        self.faces.resize(stop, axis=0)
        for row, chunk in zip(range(start, stop), chunks):
            self.faces.id.write_direct_chunk((row, 0, 0, 0), chunk if isinstance(chunk, bytes) else chunk.result())
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


@dataclass(frozen=True)
class Coverage:
    """How much face a clip needs on a track, and which gaps are long: a clip with faces
    in fewer than ``min_fraction`` of its unique frames, or fewer than ``min_faces`` faces, is
    quarantined for that track; gaps without a face longer than ``max_gap_s`` are listed in the stack."""

    min_fraction: float = 0.0
    min_faces: int = 1
    max_gap_s: float = 0.5

    @classmethod
    def from_config(cls, track_settings: Mapping) -> "Coverage":
        method_settings = track_settings["method_settings"]
        return cls(min_fraction=float(method_settings["min_face_fraction"]),
                   min_faces=int(method_settings["min_faces"]),
                   max_gap_s=float(track_settings["max_gap_s"]))

    def problem(self, n_faces: int, n_unique: int) -> str | None:
        """Why ``n_faces`` faces in ``n_unique`` frames are too few (None: enough)."""
        fraction = n_faces / n_unique if n_unique else 0.0
        if n_faces < self.min_faces or fraction < self.min_fraction:
            return (f"faces in only {n_faces} of {n_unique} frames ({100 * fraction:.1f} %); the track needs "
                    f"at least {100 * self.min_fraction:g} % and {self.min_faces} faces")
        return None


def face_gaps(mapped: np.ndarray, fps: float = TIMELINE_FPS) -> tuple[np.ndarray, np.ndarray]:
    """For a timeline of face rows (-1: no face): seconds from each frame to the nearest frame with a
    face (0 where there is one; inf when the clip has none) and the gaps as [start, stop) frame pairs."""
    has_face = np.asarray(mapped) >= 0
    positions = np.arange(has_face.size)
    seen = np.flatnonzero(has_face)
    if seen.size == 0:
        distance = np.full(has_face.size, np.inf)
    else:
        right = np.clip(np.searchsorted(seen, positions), 0, seen.size - 1)
        left = np.clip(right - 1, 0, seen.size - 1)
        distance = np.minimum(np.abs(seen[right] - positions), np.abs(seen[left] - positions)).astype(np.float64)
    edges = np.diff(np.concatenate([[0], (~has_face).astype(np.int8), [0]]))
    gaps = np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)
    return (distance / fps).astype(np.float32), gaps.astype(np.int32).reshape(-1, 2)


def write_gaps(handle, mapped: np.ndarray, max_gap_s: float, fps: float = TIMELINE_FPS) -> None:
    """``nearest_face_s`` [T] and the attrs ``long_gaps`` ([G, 2] timeline frames [start, stop) of the
    gaps longer than ``max_gap_s``), ``longest_gap_s`` and ``max_gap_s``: a model can tell a face
    seen at a frame from one filled in from far away."""
    nearest, gaps = face_gaps(mapped, fps)
    lengths = (gaps[:, 1] - gaps[:, 0]) / fps
    handle.create_dataset("nearest_face_s", data=nearest)
    handle.attrs["long_gaps"] = gaps[lengths > max_gap_s].reshape(-1, 2)
    handle.attrs["longest_gap_s"] = float(lengths.max()) if lengths.size else 0.0
    handle.attrs["max_gap_s"] = float(max_gap_s)


@dataclass
class FaceTrackResult:
    status: str
    reason: str
    n_unique_frames: int
    n_faces: int

    @property
    def detection_rate(self) -> float:
        return self.n_faces / self.n_unique_frames if self.n_unique_frames else 0.0


def finish_stack(handle, writer: FaceStackWriter, timeline: Timeline, method: str, size: int, track: str,
                 failure: str | None, extra_attrs: Mapping[str, object] | None = None,
                 coverage: Coverage = Coverage(), decode_note: str = "") -> FaceTrackResult:
    """Write the timeline, gaps, status and attrs of a stack. ``decode_note``: what the decoder could
    not use, added to a too-little-face reason (the frames it lost count as without face)."""
    mapped = writer.finish(timeline.timeline)
    write_gaps(handle, mapped, coverage.max_gap_s, timeline.fps)
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
    elif (too_few := coverage.problem(writer.n_rows, n_unique)) is not None:
        result.status, result.reason = STATUS_QUARANTINED, f"clip {timeline.clip_id}: {too_few} (track {track}, {method})"
    if decode_note and result.status == STATUS_QUARANTINED and not failure:
        result.reason = f"{result.reason}; {decode_note}"
    set_status(handle, result.status, result.reason)
    handle.attrs["clip_id"] = timeline.clip_id
    handle.attrs["track"] = track
    handle.attrs["method"] = method
    handle.attrs["size"] = int(size)
    handle.attrs["versions"] = library_versions(METHOD_LIBRARIES[method])
    handle.attrs["detection_rate"] = float(result.detection_rate)
    handle.attrs["n_unique_frames"] = n_unique
    handle.attrs["eye_corner_template"] = eye_corner_template(size).astype(np.float32)
    for key, value in (extra_attrs or {}).items():
        handle.attrs[key] = value
    return result
