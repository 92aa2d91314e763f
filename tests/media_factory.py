"""Small real clips for tests, written by the static ffmpeg that imageio-ffmpeg ships."""
from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg


def make_clip(path: Path, seconds: float = 1.0, fps: int = 25, size: str = "96x72", audio: bool = True,
              audio_seconds: float | None = None, codec: str = "libx264") -> Path:
    """A test-pattern video with (optionally) a sine tone; `audio_seconds` shortens the audio track."""
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-v", "error",
               "-f", "lavfi", "-i", f"testsrc=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={audio_seconds or seconds}"]
    command += ["-c:v", codec, "-pix_fmt", "yuv420p"]
    command += ["-c:a", "aac"] if audio else ["-an"]
    if path.suffix == ".mp4":
        command += ["-movflags", "+faststart"]
    command.append(str(path))
    subprocess.run(command, check=True)
    return path


def truncate(path: Path, keep_fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path
