"""Frames of a clip: the media stage's 60-fps timeline and a decoder that streams the unique source
frames through a bounded queue (memory flat in clip length, decoding overlapping analysis)."""
from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..constants import TIMELINE_FPS

log = logging.getLogger(__name__)


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


class VideoDecodeError(Exception):
    """The clip could not be opened or demuxed any further; the message is FFmpeg's error."""


@dataclass
class DecodeDamage:
    """The video packets the decoder refused in one clip, counted while its frames are read: their
    frames are lost (without face on the timeline)."""

    n_packets_skipped: int = 0
    first_error: str = ""

    def attrs(self) -> dict[str, int]:
        """The face stack attrs that record the damage; none for a clip decoded whole, whose stack
        stays what it was before skipped packets were counted."""
        return {"n_packets_skipped": self.n_packets_skipped} if self.n_packets_skipped else {}

    def summary(self) -> str:
        if not self.n_packets_skipped:
            return ""
        return f"the decoder refused {self.n_packets_skipped} video packet(s) (first: {self.first_error})"


class SourceFrameNumbers:
    """Numbers the decoder's frames as the media stage counts source frames: one per video packet,
    from 0, in presentation order.

    A clip decoded whole is numbered in the order its frames come out (frames' timestamps are not
    trusted: H.264 in AVI puts valid frames out of timestamp order). A frame the decoder refused
    keeps its number: it is placed by its packet's timestamp among the frames that come out (a packet
    without one: before every frame that comes out after it). Numbers only go up.
    """

    def __init__(self) -> None:
        self.n_out = 0
        self.last = -1
        self.lost_pts: list[int] = []
        self.n_lost_unplaced = 0

    def lose(self, pts: int | None) -> None:
        if pts is None:
            self.n_lost_unplaced += 1
        else:
            self.lost_pts.append(int(pts))

    def number(self, pts: int | None) -> int:
        self.n_out += 1
        lost = self.n_lost_unplaced + (len(self.lost_pts) if pts is None else sum(p < pts for p in self.lost_pts))
        self.last = max(self.n_out - 1 + lost, self.last + 1)
        return self.last


def iter_source_frames(video_path: str | Path, wanted: Iterable[int],
                       damage: DecodeDamage | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the clip once with PyAV and yield ``(source frame index, RGB uint8 [H, W, 3])`` for the
    wanted frames only (counted from 0 in presentation order, as the media stage counts them).

    Decoding stops after the last wanted frame; frames not wanted are decoded (inter-coded video needs
    them) but never converted to RGB. A packet the decoder refuses is skipped and its frame lost
    (:class:`SourceFrameNumbers` keeps the numbers of the others), counted in ``damage``. Raises
    :class:`VideoDecodeError` when the file cannot be opened or demuxed.
    """
    wanted_set = set(int(i) for i in wanted)
    if not wanted_set:
        return
    last = max(wanted_set)
    damage = DecodeDamage() if damage is None else damage
    for index, frame in _numbered_frames(video_path, damage):
        if index in wanted_set:
            yield index, frame.to_ndarray(format="rgb24")
        if index >= last:
            break


def _numbered_frames(video_path: str | Path, damage: DecodeDamage) -> Iterator[tuple[int, object]]:
    import av

    numbers = SourceFrameNumbers()
    try:
        with av.open(str(video_path)) as container:
            stream = container.streams.video[0]
            # Slice threads only: frame threads report a refused packet a few packets later, after
            # the frames between have been numbered.
            stream.thread_type = "SLICE"
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as error:
                    _refused(packet, error, damage, numbers)
                    continue
                for frame in frames:
                    yield numbers.number(frame.pts), frame
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"{type(error).__name__}: {error}") from error


def _refused(packet, error: Exception, damage: DecodeDamage, numbers: SourceFrameNumbers) -> None:
    """Count a packet the decoder refused (the flush at the end too: the frames it held are lost)."""
    damage.n_packets_skipped += 1
    damage.first_error = damage.first_error or f"pts {packet.pts}: {type(error).__name__}: {error}"
    if packet.size:
        numbers.lose(packet.pts)
    log.debug("video packet at pts %s (%d bytes) refused by the decoder: %s", packet.pts, packet.size, error)


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
