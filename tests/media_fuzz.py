"""Damaged copies of real clips, deterministic from a seed: the corpus of tests/test_fuzz.py.

The originals are tiny real clips in the containers and codecs the datasets ship (:data:`ORIGINALS`):
the demo corpus' H.264 + AAC in MP4, AFEW's XviD with MP3 or PCM audio in AVI, CREMA-D's Sorenson
H.263 + MP3 in FLV; each shows one of the demo's photo faces, animated, over a cluttered background,
and speaks espeak-ng words (avemotion/demo.py renders them). Each damaged copy applies one kind of
damage (:data:`DAMAGES`) with its parameters drawn from ``numpy.random.default_rng([seed, original,
copy])``: the same seed writes the same bytes.

Damage kinds: bytes flipped anywhere; bytes flipped inside one video packet in the middle of the
clip (the container and the probe stay intact, the decoder refuses that packet); a zeroed run in the
header or in the middle; truncation; a duplicated block; junk appended; the right bytes under the
extension of another container.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from avemotion.demo import DEMO_ENCODING, Encoding, _plan_clip, write_clip
from dataset_fixtures import AFEW_MP3_ENCODING, AFEW_PCM_ENCODING, CREMAD_ENCODING, _ensure_photos, _render


@dataclass(frozen=True)
class Original:
    """One undamaged clip to copy: its name (the file stem), the class its face and voice show, how
    it is encoded and at what frame rate."""

    name: str
    label: str
    encoding: Encoding
    fps: int

    @property
    def suffix(self) -> str:
        return f".{self.encoding.container}"


ORIGINALS: tuple[Original, ...] = (
    Original("mp4_h264_aac", "HA", DEMO_ENCODING, 25),
    Original("avi_xvid_mp3", "SA", AFEW_MP3_ENCODING, 25),
    Original("avi_xvid_pcm", "AN", AFEW_PCM_ENCODING, 25),
    Original("flv_flv1_mp3", "SU", CREMAD_ENCODING, 30),
)
FRAME_SIZE = (160, 120)  # width, height: faces 23-31 px between the eyes, found by both tracks
DURATION_S = (0.8, 1.0)
OTHER_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".flv", ".mkv", ".mov", ".webm")


def write_original(folder: Path, original: Original, seed: int, index: int,
                   size: tuple[int, int] = FRAME_SIZE, duration_s: Sequence[float] = DURATION_S) -> Path:
    """Render and encode one undamaged clip ``folder/<name><suffix>``."""
    _ensure_photos()
    rng = np.random.default_rng([seed, 0xF022, index])
    spec = _plan_clip(rng, "train", original.label, index, index % 8, float(min(duration_s)),
                      float(max(duration_s)), [size], [original.fps])
    spec = dataclasses.replace(spec, clip_id=original.name, path="")
    frames, audio = _render(spec)
    path = folder / f"{original.name}{original.suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_clip(path, frames, spec.fps, spec.width, spec.height, audio, spec.audio_rate, original.encoding)
    return path


def write_originals(folder: Path, seed: int, originals: Sequence[Original] = ORIGINALS) -> list[Path]:
    return [write_original(folder, original, seed, index) for index, original in enumerate(originals)]


@dataclass(frozen=True, order=True)
class Packet:
    """Where one video packet's bytes lie in the file."""

    pos: int
    size: int


def video_packets(path: Path) -> list[Packet]:
    """The video packets of a clip in file order, those whose byte position the demuxer knows."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(Packet(int(p.pos), int(p.size)) for p in container.demux(stream)
                      if p.size and p.pos is not None and p.pos >= 0)


@dataclass(frozen=True)
class Damage:
    """Damaged bytes, the suffix to write them under and what was done (for a failing test's message)."""

    data: bytes
    suffix: str
    detail: str


DamageFunction = Callable[[bytes, str, list[Packet], np.random.Generator], Damage]


def flip_bytes(data: bytes, suffix: str, packets: list[Packet], rng: np.random.Generator) -> Damage:
    """1-16 bytes anywhere XORed with a random non-zero value."""
    positions = np.sort(rng.choice(len(data), size=int(rng.integers(1, 17)), replace=False))
    return Damage(_xor(data, positions, rng), suffix, f"flipped bytes at {positions.tolist()}")


def flip_middle_packet(data: bytes, suffix: str, packets: list[Packet], rng: np.random.Generator) -> Damage:
    """2-6 bytes flipped in the payload of one video packet from the middle half of the clip: the
    container's structure and the first frame are intact, so the probe passes."""
    middle = packets[len(packets) // 4: max(len(packets) // 4 + 1, 3 * len(packets) // 4)]
    packet = middle[int(rng.integers(len(middle)))]
    start = packet.pos + min(16, packet.size // 4)
    positions = np.sort(rng.choice(np.arange(start, packet.pos + packet.size), replace=False,
                                   size=min(int(rng.integers(2, 7)), packet.pos + packet.size - start)))
    return Damage(_xor(data, positions, rng), suffix,
                  f"flipped bytes at {positions.tolist()} in the video packet at {packet.pos} ({packet.size} bytes)")


def zero_header(data: bytes, suffix: str, packets: list[Packet], rng: np.random.Generator) -> Damage:
    """A run of 4-512 zero bytes within the first 4 KiB."""
    length = int(rng.integers(4, 513))
    start = int(rng.integers(0, min(4096, len(data)) - min(length, len(data)) + 1))
    return Damage(_zeroed(data, start, length), suffix, f"zeroed {length} bytes at {start}")


def zero_middle(data: bytes, suffix: str, packets: list[Packet], rng: np.random.Generator) -> Damage:
    """A run of 16-4096 zero bytes starting in the middle half of the file."""
    length = int(rng.integers(16, 4097))
    start = int(rng.integers(len(data) // 4, 3 * len(data) // 4))
    return Damage(_zeroed(data, start, length), suffix, f"zeroed {length} bytes at {start}")


def truncate(data: bytes, suffix: str, packets: list[Packet], rng: np.random.Generator) -> Damage:
    """The first 2-99 % of the file."""
    keep = int(len(data) * float(rng.uniform(0.02, 0.99)))
    return Damage(data[:keep], suffix, f"truncated to {keep} of {len(data)} bytes")


def duplicate_block(data: bytes, suffix: str, packets: list[Packet], rng: np.random.Generator) -> Damage:
    """A block of 16-8192 bytes inserted again, right after itself or anywhere else."""
    length = int(rng.integers(16, min(8193, len(data))))
    start = int(rng.integers(0, len(data) - length))
    at = start + length if rng.random() < 0.5 else int(rng.integers(0, len(data)))
    block = data[start:start + length]
    return Damage(data[:at] + block + data[at:], suffix, f"{length} bytes from {start} inserted again at {at}")


def junk_appended(data: bytes, suffix: str, packets: list[Packet], rng: np.random.Generator) -> Damage:
    """1 byte to 64 KiB of random bytes, or of text, after the end."""
    length = int(rng.integers(1, 65537))
    if rng.random() < 0.5:
        junk = rng.integers(0, 256, size=length, dtype=np.uint8).tobytes()
        return Damage(data + junk, suffix, f"{length} random bytes appended")
    junk = (b"not part of the clip\n" * (length // 21 + 1))[:length]
    return Damage(data + junk, suffix, f"{length} bytes of text appended")


def wrong_extension(data: bytes, suffix: str, packets: list[Packet], rng: np.random.Generator) -> Damage:
    """The bytes unchanged, under another container's extension."""
    others = [s for s in OTHER_SUFFIXES if s != suffix]
    other = others[int(rng.integers(len(others)))]
    return Damage(data, other, f"a {suffix} file named {other}")


DAMAGES: dict[str, DamageFunction] = {
    "flip_bytes": flip_bytes, "flip_middle_packet": flip_middle_packet, "zero_header": zero_header,
    "zero_middle": zero_middle, "truncate": truncate, "duplicate_block": duplicate_block,
    "junk_appended": junk_appended, "wrong_extension": wrong_extension,
}


def _xor(data: bytes, positions: np.ndarray, rng: np.random.Generator) -> bytes:
    damaged = np.frombuffer(data, dtype=np.uint8).copy()
    damaged[positions] ^= rng.integers(1, 256, size=len(positions), dtype=np.uint8)
    return damaged.tobytes()


def _zeroed(data: bytes, start: int, length: int) -> bytes:
    return data[:start] + bytes(len(data[start:start + length])) + data[start + length:]


@dataclass(frozen=True)
class DamagedClip:
    path: Path
    original: str
    label: str
    kind: str
    detail: str


def write_damaged_copies(original: Path, label: str, out_dir: Path, seed: int, index: int, copies: int,
                         kinds: Sequence[str] = tuple(DAMAGES)) -> list[DamagedClip]:
    """``copies`` damaged copies of ``original``, the kinds in turn: ``<stem>_<n>_<kind><suffix>``."""
    data = original.read_bytes()
    packets = video_packets(original)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for n in range(copies):
        kind = kinds[n % len(kinds)]
        damage = DAMAGES[kind](data, original.suffix, packets, np.random.default_rng([seed, index, n]))
        path = out_dir / f"{original.stem}_{n:03d}_{kind}{damage.suffix}"
        path.write_bytes(damage.data)
        written.append(DamagedClip(path, original.stem, label, kind, damage.detail))
    return written


def write_fuzz_corpus(out_dir: Path, seed: int, copies_per_original: int,
                      originals: Sequence[Original] = ORIGINALS) -> list[DamagedClip]:
    """The originals in ``out_dir/originals`` and their damaged copies in ``out_dir/damaged``."""
    written = []
    for index, path in enumerate(write_originals(out_dir / "originals", seed, originals)):
        written += write_damaged_copies(path, originals[index].label, out_dir / "damaged", seed, index,
                                        copies_per_original)
    return written


def write_clip_list(path: Path, clips: Sequence[DamagedClip], split: str = "train") -> Path:
    """A ``list`` dataset (path, label, split) over ``clips``."""
    path.write_text("path,label,split\n" + "".join(f"{clip.path},{clip.label},{split}\n" for clip in clips))
    return path
