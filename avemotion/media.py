"""Media stage (paper section 2.1): probe clips, map the 60-fps timeline onto source frames, and
extract 16 kHz mono audio. Uses PyAV for probing and the static ffmpeg shipped by imageio-ffmpeg for
audio extraction."""
from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from .artifacts import STATUS_OK, STATUS_QUARANTINED, atomic_output
from .constants import AUDIO_SAMPLE_RATE, SHORT_TERM_WINDOW_S, TIMELINE_FPS

log = logging.getLogger(__name__)


class ClipProbeError(Exception):
    """A clip cannot be used; the message is the quarantine reason."""


@dataclass(frozen=True)
class ClipInfo:
    duration_s: float
    fps: float
    n_frames: int
    width: int
    height: int
    has_audio: bool
    audio_duration_s: float


# A truncated file whose index still declares the full length is caught by counting its packets.
MIN_PRESENT_FRAME_FRACTION = 0.9


def open_media(path: str | os.PathLike):
    """The file opened with PyAV; ClipProbeError for a missing, empty or unreadable file."""
    import av

    path = Path(path)
    if not path.is_file():
        raise ClipProbeError("file not found")
    if path.stat().st_size == 0:
        raise ClipProbeError("zero-byte file")
    try:
        return av.open(str(path))
    except Exception as error:  # PyAV raises several FFmpeg error types
        raise ClipProbeError(f"cannot open as a media file ({type(error).__name__}: {error})") from None


def probe_clip(path: str | os.PathLike, require_audio: bool = True,
               min_audio_s: float = SHORT_TERM_WINDOW_S) -> ClipInfo:
    """Probe a clip by demuxing every packet and decoding its first video frame.

    Raises ClipProbeError with a specific reason for: missing or zero-byte files, files that cannot
    be opened or demuxed, no video stream, no decodable video frame, zero duration, truncation,
    no audio stream (when required) and audio shorter than one 100-ms window (paper 2.3).
    """
    with open_media(path) as container:
        if not container.streams.video:
            raise ClipProbeError("no video stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        if audio is None and require_audio:
            raise ClipProbeError("no audio stream")
        width, height = video.codec_context.width, video.codec_context.height
        fps = float(video.average_rate or video.guessed_rate or 0)
        if not fps or not math.isfinite(fps):
            raise ClipProbeError("video stream has no frame rate")
        n_video_packets, audio_end_s = 0, 0.0
        first_video_packet = None
        streams = [video] + ([audio] if audio is not None else [])
        try:
            for packet in container.demux(streams):
                if packet.size == 0:
                    continue
                if packet.stream.type == "video":
                    n_video_packets += 1
                    if first_video_packet is None:
                        first_video_packet = packet
                        if not _decodes(packet):
                            raise ClipProbeError("first video frame cannot be decoded")
                elif packet.pts is not None:
                    end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                    audio_end_s = max(audio_end_s, end)
        except ClipProbeError:
            raise
        except Exception as error:
            raise ClipProbeError(
                f"corrupt or truncated after {n_video_packets} video packets ({type(error).__name__}: {error})"
            ) from None
        if n_video_packets == 0:
            raise ClipProbeError("video stream has no frames")
        declared_frames = int(video.frames or 0)
        if declared_frames and n_video_packets < MIN_PRESENT_FRAME_FRACTION * declared_frames:
            raise ClipProbeError(
                f"truncated: {n_video_packets} of {declared_frames} declared video frames present"
            )
        duration_s = n_video_packets / fps
        if duration_s <= 0:
            raise ClipProbeError("zero duration")
        if audio is not None:
            audio_start_s = float((audio.start_time or 0) * audio.time_base) if audio.time_base else 0.0
            audio_duration_s = max(0.0, audio_end_s - audio_start_s)
            if audio_duration_s < min_audio_s:
                raise ClipProbeError(
                    f"audio is {audio_duration_s * 1000:.0f} ms long, shorter than one "
                    f"{min_audio_s * 1000:.0f} ms analysis window"
                )
        else:
            audio_duration_s = 0.0
    return ClipInfo(duration_s=duration_s, fps=fps, n_frames=n_video_packets, width=width, height=height,
                    has_audio=audio is not None, audio_duration_s=audio_duration_s)


def probe_audio(path: str | os.PathLike, min_audio_s: float = SHORT_TERM_WINDOW_S) -> float:
    """Probe an audio-only file (a RAVDESS 03 or CREMA-D AudioWAV .wav paired with a video): demux
    every packet and return its duration in seconds. Raises ClipProbeError for a missing, empty or
    unreadable file, no audio stream, or audio shorter than `min_audio_s`."""
    with open_media(path) as container:
        if not container.streams.audio:
            raise ClipProbeError("no audio stream")
        audio = container.streams.audio[0]
        end_s = 0.0
        try:
            for packet in container.demux(audio):
                if packet.size and packet.pts is not None:
                    end_s = max(end_s, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        except Exception as error:
            raise ClipProbeError(f"corrupt or truncated audio ({type(error).__name__}: {error})") from None
        start_s = float((audio.start_time or 0) * audio.time_base) if audio.time_base else 0.0
    duration_s = max(0.0, end_s - start_s)
    if duration_s < min_audio_s:
        raise ClipProbeError(f"audio is {duration_s * 1000:.0f} ms long, shorter than one "
                             f"{min_audio_s * 1000:.0f} ms analysis window")
    return duration_s


def audio_source(clip_row: Mapping[str, str]) -> str:
    """The file a manifest row's audio comes from: its `audio_path` (a video without sound paired
    with its audio-only twin, RAVDESS 02 + 03, CREMA-D VideoFlash + AudioWAV), else the clip itself."""
    return clip_row.get("audio_path") or clip_row["path"]


def _decodes(packet) -> bool:
    try:
        packet.decode()
    except Exception:
        return False
    return True  # an H.264 decoder may buffer the first frame; a raised error is what marks it bad


# Keeps exact frame boundaries (t * fps integral, up to rounding) on the frame that starts there.
_FRAME_BOUNDARY = 1e-6


def timeline_map(n_source_frames: int, source_fps: float, timeline_fps: int = TIMELINE_FPS) -> np.ndarray:
    """Paper 2.1: frames are taken at 60 fps. Map every 60-fps timeline frame to the source frame
    shown at that instant (25 fps x 2 s -> 120 timeline frames over 50 unique source frames). The
    timeline is the clip's duration in timeline frames, rounded, but long enough to reach the last
    source frame when one of its instants lies inside the clip: a source of at most 60 fps has every
    frame on the timeline."""
    if n_source_frames <= 0 or source_fps <= 0:
        raise ValueError("a timeline needs at least one source frame and a positive frame rate")

    def instants_before(frame: int) -> int:
        """How many timeline frames come before source frame `frame` starts."""
        return math.ceil((frame - _FRAME_BOUNDARY) * timeline_fps / source_fps)

    # Rounding down alone can drop the last frame (50 fps x 2 frames = 2.4 -> 2, both on frame 0).
    reaches_last_frame = min(instants_before(n_source_frames - 1) + 1, instants_before(n_source_frames))
    n_timeline = max(1, round(n_source_frames * timeline_fps / source_fps), reaches_last_frame)
    instants = np.arange(n_timeline) / timeline_fps
    source = np.floor(instants * source_fps + _FRAME_BOUNDARY).astype(np.int64)
    return np.minimum(source, n_source_frames - 1)


def write_timeline(path: str | os.PathLike, clip_id: str, info: dict, timeline_fps: int = TIMELINE_FPS) -> dict:
    """Write a clip's timeline JSON (:data:`avemotion.layout.TIMELINE`) from a manifest row (fps,
    n_frames, size, duration)."""
    n_frames, fps = int(info["n_frames"]), float(info["fps"])
    timeline = timeline_map(n_frames, fps, timeline_fps)
    record = {
        "clip_id": clip_id,
        "source_fps": fps,
        "n_source_frames": n_frames,
        "width": int(info["width"]),
        "height": int(info["height"]),
        "duration_s": float(info["duration_s"]),
        "timeline_fps": timeline_fps,
        "timeline": timeline.tolist(),
        "unique_frames": np.unique(timeline).tolist(),
    }
    with atomic_output(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(record))
    return record


def read_timeline(path: str | os.PathLike) -> dict:
    return json.loads(Path(path).read_text())


def ffmpeg_executable() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def extract_audio(clip: str | os.PathLike, wav_path: str | os.PathLike,
                  sample_rate: int = AUDIO_SAMPLE_RATE, has_audio: bool = True) -> int:
    """Decode the clip's first audio stream to mono 16-bit PCM at `sample_rate`; return the sample
    count. A clip without audio gets a valid wav with 0 samples (the audio stage quarantines it)."""
    with atomic_output(wav_path, suffix=".wav") as tmp:
        if has_audio:
            command = [ffmpeg_executable(), "-nostdin", "-v", "error", "-y", "-i", str(clip), "-map", "0:a:0",
                       "-vn", "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                log.error("ffmpeg could not extract audio from %s:\n%s", clip, result.stderr.strip())
                last_line = (result.stderr.strip().splitlines() or ["no message"])[-1]
                raise RuntimeError(f"ffmpeg could not extract audio from {clip}: {last_line}")
        else:
            with wave.open(str(tmp), "wb") as handle:
                handle.setnchannels(1)
                handle.setsampwidth(2)
                handle.setframerate(sample_rate)
        with wave.open(str(tmp), "rb") as handle:
            return handle.getnframes()


def write_media_shard(clip_rows: Mapping[str, Mapping[str, str]], out_dir: str | os.PathLike,
                      settings: Mapping[str, object], table_path: str | os.PathLike) -> dict[str, str]:
    """Rule ``media``: each clip's 60-fps timeline map and 16 kHz mono audio in one shard's folder
    (:data:`avemotion.layout.TIMELINE`, :data:`avemotion.layout.WAV`). ``clip_rows``: the shard's
    manifest rows by clip id;
    ``settings``: the config's ``media:`` block. A clip that fails gets a timeline without frames that
    holds the reason (``error``) and a wav of 0 samples; returns {clip_id: reason} of those. Last, the
    shard table ``table_path`` (:func:`avemotion.shards.run_each_clip`)."""
    from .layout import TIMELINE, WAV
    from .shards import run_each_clip

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    timeline_fps, sample_rate = int(settings["timeline_fps"]), int(settings["audio_sample_rate"])

    def process(clip_id: str) -> None:
        row = clip_rows[clip_id]
        write_timeline(TIMELINE.in_folder(folder, clip_id), clip_id, row, timeline_fps=timeline_fps)
        # the clip's own audio, or its paired audio file (manifest audio_path; an input of the rule too)
        extract_audio(audio_source(row), WAV.in_folder(folder, clip_id), sample_rate,
                      has_audio=row["has_audio"] == "true")

    def quarantine(clip_id: str, failure: str) -> None:
        record = {"clip_id": clip_id, "timeline_fps": timeline_fps, "timeline": [], "unique_frames": [],
                  "error": f"clip {clip_id}: {failure}"}
        with atomic_output(TIMELINE.in_folder(folder, clip_id), suffix=".json") as tmp:
            tmp.write_text(json.dumps(record))
        extract_audio(clip_rows[clip_id]["path"], WAV.in_folder(folder, clip_id), sample_rate, has_audio=False)

    return run_each_clip(sorted(clip_rows), "media", process, quarantine, table_path)


def write_media_index(manifest_path: str | os.PathLike, timelines: Mapping[str, str | os.PathLike],
                      wavs: Mapping[str, str | os.PathLike], index_path: str | os.PathLike) -> None:
    """`results/media/index.tsv`: per clip, the timeline and audio sizes (quarantined: the reason the
    media shard wrote into its timeline). ``timelines``, ``wavs``: {clip_id: file}."""
    from .artifacts import read_manifest, write_tsv

    clips = {row["clip_id"]: row for row in read_manifest(manifest_path)}
    rows = []
    for clip_id, timeline_path in timelines.items():
        timeline = read_timeline(timeline_path)
        with wave.open(str(wavs[clip_id]), "rb") as handle:
            audio_samples = handle.getnframes()
        clip = clips[clip_id]
        error = timeline.get("error", "")
        rows.append({
            "clip_id": clip_id, "split": clip["split"], "label": clip["label"],
            "status": STATUS_QUARANTINED if error else STATUS_OK, "reason": error, "n_timeline_frames": len(timeline["timeline"]),
            "n_unique_frames": len(timeline["unique_frames"]), "audio_samples": audio_samples,
        })
    write_tsv(index_path, ("clip_id", "split", "label", "status", "reason", "n_timeline_frames",
                           "n_unique_frames", "audio_samples"), rows)
