"""Tiny corpora in the real layouts, names and containers of AFEW, RAVDESS and CREMA-D.

The datasets themselves cannot be shipped; these fixtures let the tests run the adapters
(avemotion/datasets.py) and the whole workflow on files shaped like them. Faces and voices are the
demo corpus' own (avemotion/demo.py: the four photo identities animated per emotion, espeak-ng speech
with per-class prosody, the same fusion design), so models trained on a fixture have something to
learn. Every clip's parameters come from ``numpy.random.default_rng([seed, dataset, n])``:
deterministic from the seed. Each writer returns a :class:`Fixture` listing every file it wrote with
the truth about it.

AFEW (:func:`write_afew_fixture`)::

    Train_AFEW/<Emotion>/<9-digit id>.avi   Emotion: Angry Disgust Fear Happy Neutral Sad Surprise
    Val_AFEW/<Emotion>/<id>.avi
    Test_AFEW/<id>.avi                      flat, unlabelled (the challenge's test set)
    Faces/<Train|Val>/<Emotion>/<id>/<frame:03d>.png, Faces/Test/<id>/<frame:03d>.png
                                            the organisers' face crops (track B), 0-based frame numbers

    AVI with MPEG-4 Part 2 video (codec tag XVID), 720x576 at 25 fps; audio MP3 (even clips) or PCM
    s16le (odd clips), 44.1/48 kHz mono. Face crops: 128x128 squares cut from the rendered frames
    around the face, missing on about 10 % of frames (the organisers' detector missed them there);
    the last test clip has no face folder at all. With ``anomalies`` one zero-byte clip is added in
    ``Val_AFEW/Happy/``.

RAVDESS (:func:`write_ravdess_fixture`)::

    Actor_NN/MM-VC-EM-IN-ST-RE-NN.{mp4,wav}   modality 01 audio-video .mp4 (H.264 + AAC), 02 video-only
                                               .mp4, 03 audio-only .wav (48 kHz PCM16); vocal channel 01
                                               speech, 02 song; 640x360 at 30 fps

    Per actor three recordings: speech with all three files (01, 02, 03), song with 02 + 03 only (no
    audio-video file: the video-only file must be paired with its .wav), speech calm (emotion 02,
    intensity 02) with 01 only. With ``anomalies`` actor 01 also has an audio-only recording (03
    alone) and a video-only recording without its .wav (02 alone).

CREMA-D (:func:`write_cremad_fixture`)::

    VideoFlash/<ActorID>_<Sentence>_<EMO>_<Level>.flv   FLV (Sorenson H.263 "flv1" video 480x360 at 30 fps,
                                                        MP3 audio 44.1 kHz)
    AudioWAV/<same name>.wav                            16 kHz mono PCM16

    Emotions ANG DIS FEA HAP NEU SAD (no surprise in CREMA-D), levels LO MD HI XX, actors 1001 on.
    With ``anomalies`` a video without its .wav and a .wav without its video are added.

Needs espeak-ng and MediaPipe (for the face photos), like the demo corpus.
"""
from __future__ import annotations

import dataclasses
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from avemotion.artifacts import atomic_output
from avemotion.constants import CLASSES
from avemotion.demo import (
    PATCH_IOD, ClipSpec, Encoding, _init_worker, _plan_clip, face_placement, prepare_face_photos, render_audio,
    render_frames, synthesize_speech, write_clip,
)

log = logging.getLogger(__name__)

AFEW_FOLDERS: dict[str, str] = {
    "AN": "Angry", "DI": "Disgust", "FE": "Fear", "HA": "Happy", "NE": "Neutral", "SA": "Sad", "SU": "Surprise",
}
AFEW_SPLIT_FOLDERS: dict[str, str] = {"train": "Train_AFEW", "val": "Val_AFEW", "test": "Test_AFEW"}
AFEW_FACE_FOLDERS: dict[str, str] = {"train": "Train", "val": "Val", "test": "Test"}
AFEW_FACE_SIZE = 128
# RAVDESS emotion codes -> the class whose face and voice are rendered (calm looks and sounds neutral).
RAVDESS_CODES: dict[str, str] = {
    "01": "NE", "02": "NE", "03": "HA", "04": "SA", "05": "AN", "06": "FE", "07": "DI", "08": "SU",
}
RAVDESS_SPEECH_EMOTIONS: tuple[str, ...] = ("01", "03", "04", "05", "06", "07", "08")
RAVDESS_SONG_EMOTIONS: tuple[str, ...] = ("01", "03", "04", "05", "06")  # song has no disgust/surprise
CREMAD_CODES: dict[str, str] = {"ANG": "AN", "DIS": "DI", "FEA": "FE", "HAP": "HA", "NEU": "NE", "SAD": "SA"}
CREMAD_SENTENCES: tuple[str, ...] = ("DFA", "IEO", "IOM", "ITH", "ITS", "IWL", "IWW", "MTI", "TAI", "TIE", "TSI", "WSI")
CREMAD_LEVELS: tuple[str, ...] = ("XX", "HI", "LO", "MD")
DATASET_INDEX: dict[str, int] = {"afew": 1, "ravdess": 2, "cremad": 3}

# MPEG-4 Part 2 (XviD) and Sorenson H.263 (FLV1) take a bit rate, not a quality like x264's crf; their
# default is 200 kb/s.
AFEW_MP3_ENCODING = Encoding("avi", "mpeg4", "libmp3lame", codec_tag="XVID", video_bit_rate=1_200_000)
AFEW_PCM_ENCODING = dataclasses.replace(AFEW_MP3_ENCODING, audio_codec="pcm_s16le")
RAVDESS_ENCODING = Encoding("mp4", "libx264", "aac", {"crf": "23", "preset": "veryfast"})
CREMAD_ENCODING = Encoding("flv", "flv", "libmp3lame", video_bit_rate=1_200_000)


@dataclass(frozen=True)
class FixtureFile:
    """One file a fixture writer wrote (path relative to the fixture root)."""

    path: str
    label: str  # the class (AN ... SU) that was rendered; "" for a broken file
    split: str = ""  # AFEW: the split of its folder; "" where the dataset has no official split
    actor: str = ""  # RAVDESS / CREMA-D actor id as in the file name
    kind: str = "audio-video"  # audio-video | video-only | audio-only | broken
    emotion: str = ""  # the dataset's own emotion code or folder name (RAVDESS "02" = calm)


@dataclass
class Fixture:
    root: Path
    files: list[FixtureFile] = field(default_factory=list)
    faces_dir: Path | None = None  # AFEW: the organisers' face folders (faces.track_b.dataset_faces_dir)

    def paths(self, kind: str | None = None) -> list[Path]:
        return [self.root / f.path for f in self.files if kind is None or f.kind == kind]


_photos_ready = False


def _ensure_photos() -> None:
    global _photos_ready
    if not _photos_ready:
        _init_worker(prepare_face_photos())
        _photos_ready = True


def _spec(seed: int, dataset: str, n: int, label: str, identity: int, duration_s: Sequence[float],
          size: tuple[int, int], fps: int, audio_rate: int, clip_id: str) -> ClipSpec:
    rng = np.random.default_rng([seed, DATASET_INDEX[dataset], n])
    spec = _plan_clip(rng, "train", label, n, identity % 4, float(min(duration_s)), float(max(duration_s)),
                      [size], [fps])
    return dataclasses.replace(spec, clip_id=clip_id, path="", audio_rate=audio_rate)


def _render(spec: ClipSpec, video: bool = True, audio: bool = True) -> tuple[list[np.ndarray], np.ndarray | None]:
    frames = list(render_frames(spec)) if video else []
    sound = None
    if audio:
        with tempfile.TemporaryDirectory(prefix="avemotion_fixture_") as workdir:
            speech = synthesize_speech(spec, Path(workdir))
        sound = render_audio(spec, speech)
    return frames, sound


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    import soundfile

    with atomic_output(path, suffix=".wav") as tmp:
        soundfile.write(str(tmp), audio, rate, subtype="PCM_16", format="WAV")


def face_crops(spec: ClipSpec, frames: Sequence[np.ndarray], size: int = AFEW_FACE_SIZE) -> list[np.ndarray]:
    """A square crop around the face of every frame (the face at its rendered place and size),
    turned upright, resized to ``size``: RGB uint8."""
    import cv2

    crops = []
    for index, frame in enumerate(frames):
        angle, scale, cx, cy = face_placement(spec, index / spec.fps)
        iod = scale * PATCH_IOD
        side = 2.3 * iod
        centre = (float(cx), float(cy + 0.1 * iod))
        # rotate about the face centre by the head's roll, so the crop is upright, then cut the square
        matrix = cv2.getRotationMatrix2D(centre, -float(angle), size / side)
        matrix[:, 2] += (size / 2 - centre[0], size / 2 - centre[1])
        crops.append(cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA,
                                    borderMode=cv2.BORDER_REPLICATE))
    return crops


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def afew_clip_ids(seed: int, n: int) -> list[str]:
    """``n`` distinct 9-digit ids like AFEW's (e.g. 000046280), deterministic from the seed."""
    rng = np.random.default_rng([seed, DATASET_INDEX["afew"], 0xAF])
    ids: list[str] = []
    while len(ids) < n:
        candidate = f"{int(rng.integers(1, 60_000)):06d}{int(rng.integers(0, 1000)):03d}"
        if candidate not in ids:
            ids.append(candidate)
    return ids


def write_afew_fixture(out_dir: str | Path, seed: int = 0, train: int = 10, val: int = 7, test: int = 5,
                       duration_s: Sequence[float] = (1.1, 1.3), faces: bool = True,
                       anomalies: bool = True) -> Fixture:
    """An AFEW-shaped folder (module docstring): ``train``/``val`` labelled clips (classes in turn),
    ``test`` flat unlabelled clips, the organisers' face crops when ``faces``."""
    _ensure_photos()
    root = Path(out_dir)
    fixture = Fixture(root=root, faces_dir=root / "Faces" if faces else None)
    counts = {"train": train, "val": val, "test": test}
    ids = afew_clip_ids(seed, sum(counts.values()))
    n = 0
    for split_index, split in enumerate(("train", "val", "test")):
        for k in range(counts[split]):
            label = CLASSES[(k + 3 * split_index) % len(CLASSES)]
            clip_id = ids[n]
            audio_rate = (44100, 48000)[n % 2]
            spec = _spec(seed, "afew", n, label, identity=n, duration_s=duration_s, size=(720, 576), fps=25,
                         audio_rate=audio_rate, clip_id=clip_id)
            frames, audio = _render(spec)
            folder = Path(AFEW_SPLIT_FOLDERS[split]) if split == "test" else \
                Path(AFEW_SPLIT_FOLDERS[split]) / AFEW_FOLDERS[label]
            relative = folder / f"{clip_id}.avi"
            write_clip(root / relative, frames, spec.fps, spec.width, spec.height, audio, audio_rate,
                       AFEW_MP3_ENCODING if n % 2 == 0 else AFEW_PCM_ENCODING)
            fixture.files.append(FixtureFile(relative.as_posix(), label, split,
                                             emotion="" if split == "test" else AFEW_FOLDERS[label]))
            last_test = split == "test" and k == counts["test"] - 1
            if faces and not last_test:
                face_folder = root / "Faces" / AFEW_FACE_FOLDERS[split]
                if split != "test":
                    face_folder = face_folder / AFEW_FOLDERS[label]
                missed = np.random.default_rng([seed, DATASET_INDEX["afew"], n, 7]).random(len(frames)) < 0.1
                for frame_number, crop in enumerate(face_crops(spec, frames)):
                    if not missed[frame_number]:
                        _write_png(face_folder / clip_id / f"{frame_number:03d}.png", crop)
            log.info("AFEW fixture: wrote %s", relative)
            n += 1
    if anomalies:
        broken = Path(AFEW_SPLIT_FOLDERS["val"]) / AFEW_FOLDERS["HA"] / f"{afew_clip_ids(seed + 1, 1)[0]}.avi"
        (root / broken).parent.mkdir(parents=True, exist_ok=True)
        (root / broken).write_bytes(b"")
        fixture.files.append(FixtureFile(broken.as_posix(), "", "val", kind="broken", emotion=AFEW_FOLDERS["HA"]))
    return fixture


def ravdess_name(modality: str, channel: str, emotion: str, intensity: str, statement: str,
                 repetition: str, actor: int) -> str:
    return f"{modality}-{channel}-{emotion}-{intensity}-{statement}-{repetition}-{actor:02d}"


def write_ravdess_fixture(out_dir: str | Path, seed: int = 0, actors: int = 4, first_actor: int = 1,
                          duration_s: Sequence[float] = (1.1, 1.3), size: tuple[int, int] = (640, 360),
                          anomalies: bool = True) -> Fixture:
    """A RAVDESS-shaped folder (module docstring): ``Actor_NN/`` for actors ``first_actor`` ...
    ``first_actor + actors - 1``, three recordings each (speech 01+02+03, song 02+03, calm speech 01)."""
    _ensure_photos()
    root = Path(out_dir)
    fixture = Fixture(root=root)
    for actor in range(first_actor, first_actor + actors):
        speech_emotion = RAVDESS_SPEECH_EMOTIONS[actor % len(RAVDESS_SPEECH_EMOTIONS)]
        song_emotion = RAVDESS_SONG_EMOTIONS[(actor + 2) % len(RAVDESS_SONG_EMOTIONS)]
        # (vocal channel, emotion, intensity, statement, repetition, modalities written)
        recordings = [("01", speech_emotion, "02" if speech_emotion != "01" else "01", "01", "01", ("01", "02", "03")),
                      ("02", song_emotion, "01", "02", "01", ("02", "03")),
                      ("01", "02", "02", "02", "02", ("01",))]
        if anomalies and actor == first_actor:
            recordings += [("01", "05", "01", "01", "02", ("03",)), ("01", "03", "01", "02", "01", ("02",))]
        for r, (channel, emotion, intensity, statement, repetition, modalities) in enumerate(recordings):
            label = RAVDESS_CODES[emotion]
            spec = _spec(seed, "ravdess", actor * 16 + r, label, identity=actor, duration_s=duration_s,
                         size=size, fps=30, audio_rate=48000,
                         clip_id=ravdess_name("01", channel, emotion, intensity, statement, repetition, actor))
            video = any(m in ("01", "02") for m in modalities)
            audio = any(m in ("01", "03") for m in modalities)
            frames, sound = _render(spec, video=video, audio=audio)
            for modality in modalities:
                name = ravdess_name(modality, channel, emotion, intensity, statement, repetition, actor)
                relative = Path(f"Actor_{actor:02d}") / (name + (".wav" if modality == "03" else ".mp4"))
                if modality in ("01", "02"):
                    write_clip(root / relative, frames, spec.fps, spec.width, spec.height,
                               sound if modality == "01" else None, spec.audio_rate, RAVDESS_ENCODING)
                else:
                    write_wav(root / relative, sound, spec.audio_rate)
                kind = {"01": "audio-video", "02": "video-only", "03": "audio-only"}[modality]
                fixture.files.append(FixtureFile(relative.as_posix(), label, actor=f"{actor:02d}", kind=kind,
                                                 emotion=emotion))
            log.info("RAVDESS fixture: wrote recording %s", spec.clip_id)
    return fixture


def write_cremad_fixture(out_dir: str | Path, seed: int = 0, actors: int = 4, clips_per_actor: int = 3,
                         first_actor: int = 1001, duration_s: Sequence[float] = (1.1, 1.3),
                         anomalies: bool = True) -> Fixture:
    """A CREMA-D-shaped folder (module docstring): ``VideoFlash/*.flv`` beside ``AudioWAV/*.wav``."""
    _ensure_photos()
    root = Path(out_dir)
    fixture = Fixture(root=root)
    codes = list(CREMAD_CODES)
    plan = []
    for actor in range(first_actor, first_actor + actors):
        for k in range(clips_per_actor):
            emotion = codes[(actor + k) % len(codes)]
            level = "XX" if emotion == "NEU" else CREMAD_LEVELS[(actor + k) % len(CREMAD_LEVELS)]
            plan.append((actor, CREMAD_SENTENCES[(k + actor) % len(CREMAD_SENTENCES)], emotion, level, True, True))
    if anomalies:
        plan.append((first_actor, "ITS", "HAP", "HI", True, False))  # a video without its .wav
        plan.append((first_actor, "IWL", "SAD", "LO", False, True))  # a .wav without its video
    for n, (actor, sentence, emotion, level, video, audio) in enumerate(plan):
        name = f"{actor}_{sentence}_{emotion}_{level}"
        label = CREMAD_CODES[emotion]
        spec = _spec(seed, "cremad", n, label, identity=actor, duration_s=duration_s, size=(480, 360), fps=30,
                     audio_rate=44100, clip_id=name)
        frames, sound = _render(spec, video=video, audio=True)
        if video:
            relative = Path("VideoFlash") / f"{name}.flv"
            write_clip(root / relative, frames, spec.fps, spec.width, spec.height, sound, spec.audio_rate,
                       CREMAD_ENCODING)
            fixture.files.append(FixtureFile(relative.as_posix(), label, actor=str(actor), kind="audio-video",
                                             emotion=emotion))
        if audio:
            relative = Path("AudioWAV") / f"{name}.wav"
            write_wav(root / relative, _resample(sound, spec.audio_rate, 16000), 16000)
            fixture.files.append(FixtureFile(relative.as_posix(), label, actor=str(actor), kind="audio-only",
                                             emotion=emotion))
        log.info("CREMA-D fixture: wrote %s", name)
    return fixture


def _resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    divisor = gcd(rate, target)
    return np.clip(resample_poly(audio, target // divisor, rate // divisor), -1, 1).astype(np.float32)
