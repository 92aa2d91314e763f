"""Frames of a clip: the media stage's 60-fps timeline and a decoder that streams the unique source
frames through a bounded queue (memory flat in clip length, decoding overlapping analysis)."""
from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..constants import TIMELINE_FPS


@dataclass(frozen=True)
class Timeline:
    """The media stage's ``{clip}.timeline.json``: which source frame each 60-fps frame shows."""

    clip_id: str
    source_fps: float
    timeline: np.ndarray  # int [T] source frame index per 60-fps frame
    unique_frames: np.ndarray  # int [N] sorted unique source frame indices
    fps: float = float(TIMELINE_FPS)  # of the timeline

    @classmethod
    def read(cls, path: str | Path) -> "Timeline":
        data = json.loads(Path(path).read_text())
        return cls(
            clip_id=str(data["clip_id"]),
            source_fps=float(data.get("source_fps", 0.0)),
            timeline=np.asarray(data["timeline"], dtype=np.int64).reshape(-1),
            unique_frames=np.asarray(sorted(set(int(i) for i in data["unique_frames"])), dtype=np.int64),
            fps=float(data.get("timeline_fps", TIMELINE_FPS)),
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
