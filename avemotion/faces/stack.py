"""The HDF5 face stack of one clip and track (README, "Artifacts"): aligned faces once per unique
source frame, the 60-fps timeline of face rows, landmarks, eye corners, scores, status."""
from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from ..artifacts import STATUS_OK, STATUS_QUARANTINED, set_status
from .align import eye_corner_template
from .frames import Timeline


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


def finish_stack(handle, writer: FaceStackWriter, timeline: Timeline, method: str, size: int, track: str,
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
