"""Track B from the dataset's own aligned face crops (AFEW ships them)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from ..artifacts import atomic_output
from .frames import Timeline
from .stack import Coverage, FaceStackWriter, FaceTrackResult, finish_stack

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp")


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
                               track: str = "b", frame_offset: int = 0, coverage: Coverage = Coverage(),
                               gzip_level: int = 1, folder: str | None = None) -> FaceTrackResult:
    """Track B from the dataset's aligned crops, resized to ``size``; frame number + ``frame_offset``
    gives the source frame index. No landmarks (K = 0); eye corners NaN; scores 1. ``gzip_level``:
    :class:`.FaceStackWriter`'s. ``folder``: the name of the clip's crop folder (None: its id)."""
    import cv2
    import h5py

    folder = folder or timeline.clip_id
    images = find_dataset_face_images(faces_dir, folder)
    wanted = set(int(i) for i in timeline.unique_frames)
    failure = None if images else f"no face folder named {folder!r} under {faces_dir}"
    with atomic_output(out_path, suffix=".h5") as tmp, h5py.File(tmp, "w") as handle:
        writer = FaceStackWriter(handle, size, 0, gzip_level=gzip_level)
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
        result = finish_stack(handle, writer, timeline, "dataset", size, track, failure,
                               {"dataset_faces_dir": str(faces_dir)}, coverage)
    return result
