"""Dataset adapters and the clip manifest (paper section 3.1).

Every adapter turns a dataset on disk into candidate clips (clip id, path, label, split, and for a
video without sound the separate audio file it is paired with); every media file the adapter skips
is rejected with a reason. `build_manifest` probes every candidate and writes each input file to
exactly one of `results/manifest.tsv` (as a clip's `path` or `audio_path`) and `results/quarantine.tsv`.

Splits: AFEW has official folders; RAVDESS and CREMA-D have none, so whole actors go to val / test /
train by a hash of (dataset, actor, split_seed) against the fractions (`actor_split`): an actor's
split never changes when actors are added or removed. `dataset.split_file` replaces that assignment.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .artifacts import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, write_tsv
from .constants import CLASSES, SPLITS
from .media import ClipProbeError, probe_audio, probe_clip

log = logging.getLogger(__name__)

# Clip ids become file names and Snakemake wildcards.
CLIP_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".flv", ".webm", ".m4v", ".mpg", ".mpeg")
AUDIO_SUFFIXES = (".wav",)

LABEL_SYNONYMS: dict[str, str] = {
    **{c.lower(): c for c in CLASSES},
    "anger": "AN", "angry": "AN", "ang": "AN",
    "disgust": "DI", "disgusted": "DI", "dis": "DI",
    "fear": "FE", "fearful": "FE", "fea": "FE", "afraid": "FE",
    "happiness": "HA", "happy": "HA", "hap": "HA", "joy": "HA",
    "neutral": "NE", "neu": "NE",
    "sadness": "SA", "sad": "SA",
    "surprise": "SU", "surprised": "SU", "sur": "SU",
}
AFEW_SPLIT_FOLDERS: dict[str, str] = {"train_afew": "train", "val_afew": "val", "test_afew": "test"}
RAVDESS_EMOTIONS: dict[str, str] = {
    "01": "NE", "02": "calm", "03": "HA", "04": "SA", "05": "AN", "06": "FE", "07": "DI", "08": "SU",
}
# Names are matched whole (fullmatch) and in ASCII digits: `\d` and `$` would also take other scripts'
# digits and a trailing newline.
RAVDESS_NAME = re.compile(r"([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})")
RAVDESS_MODALITIES: dict[str, str] = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
RAVDESS_VOCAL_CHANNELS: dict[str, str] = {"01": "speech", "02": "song"}
CREMAD_EMOTIONS: dict[str, str] = {"ANG": "AN", "DIS": "DI", "FEA": "FE", "HAP": "HA", "NEU": "NE", "SAD": "SA"}
CREMAD_NAME = re.compile(r"([0-9]{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})")


@dataclass
class Candidate:
    clip_id: str
    path: str
    label: str
    split: str
    dataset: str
    audio_path: str = ""  # a separate audio file of the clip (the video has none); "" = the video's own


@dataclass
class Rejection:
    clip_id: str
    path: str
    reason: str
    stage: str = "dataset"
    split: str = ""  # the split the file would have had, where known (probe rejections, AFEW folders)
    dataset: str = ""  # the name of the dataset the file belongs to

    def row(self) -> dict[str, str]:
        return {"clip_id": self.clip_id, "path": self.path, "stage": self.stage, "reason": self.reason,
                "split": self.split, "dataset": self.dataset}


def label_mapping(entry: Mapping) -> str:
    """How a dataset's labels become the paper's seven classes (AN DI FE HA NE SA SU), in one sentence
    for the report."""
    kind = entry["kind"]
    if kind == "ravdess":
        calm = ("folded into neutral (NE)" if entry.get("ravdess_calm", "neutral") == "neutral"
                else "dropped (quarantined)")
        return (f"RAVDESS emotion codes 01 neutral, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, "
                f"08 surprised as NE HA SA AN FE DI SU; calm (02) {calm} by dataset.ravdess_calm")
    if kind == "cremad":
        return "CREMA-D ANG DIS FEA HAP NEU SAD as AN DI FE HA NE SA; CREMA-D has no surprise (SU)"
    if kind == "afew":
        return ("AFEW's emotion folders Angry Disgust Fear Happy Neutral Sad Surprise are the paper's seven "
                "classes; Test_AFEW/ clips without a folder are unlabelled")
    return ("labels by class code or name (AN or angry/anger, ..., SU or surprise/surprised), any case; an "
            "unknown label is quarantined")


def normalize_label(label: str) -> str | None:
    """Map a dataset's label spelling onto the paper's class codes; None when unknown."""
    return LABEL_SYNONYMS.get(label.strip().lower())


def clip_id_from_stem(stem: str) -> str:
    """A clip id usable as a file name and wildcard: invalid characters become '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", stem)
    return cleaned if re.fullmatch(CLIP_ID_PATTERN, cleaned) else f"clip_{cleaned}"


def _video_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _media_files(root: Path) -> list[Path]:
    """Video and audio files below root (RAVDESS and CREMA-D ship audio-only .wav files)."""
    suffixes = VIDEO_SUFFIXES + AUDIO_SUFFIXES
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def actor_split(dataset: str, actor: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    """The split of one actor: a hash of (dataset, actor number, seed) mapped onto [0, 1) and cut at
    val_fraction and val_fraction + test_fraction. Each actor's split depends on nothing else, so
    adding or removing actors never moves another; the fractions hold on average over actors."""
    digest = hashlib.sha256(f"{dataset}:{int(actor)}:{int(seed)}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < val_fraction:
        return "val"
    if u < val_fraction + test_fraction:
        return "test"
    return "train"


ACTOR_KEY = re.compile(r"(?i)(?:actor_?)?(\d+)")


@dataclass(frozen=True)
class SplitFile:
    """`dataset.split_file`: rows `actor<TAB>split` or `clip_id<TAB>split` (comma also accepted)."""

    path: str
    actors: dict[int, str]
    clips: dict[str, str]

    def split_of(self, clip_id: str, actor: str) -> str | None:
        return self.clips.get(clip_id) or self.actors.get(int(actor))


def read_split_file(path: str | os.PathLike) -> SplitFile:
    """Read a split list: one `key<TAB>split` per line (or `key,split`); `#` comments, blank lines
    and a header row whose second field is `split` are skipped. A key of digits (optionally
    `Actor_` before them: `12`, `Actor_12`, `1001`) names an actor, anything else a clip id; a clip's
    own row wins over its actor's. An unknown split or a key listed twice with two splits is an error."""
    actors: dict[int, str] = {}
    clips: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t" if "\t" in line else ",")]
        if len(fields) < 2:
            raise ValueError(f"{path}:{number}: expected `actor or clip_id<TAB>split`, got {line!r}")
        key, split = fields[0], fields[1].lower()
        if split == "split" and not actors and not clips:
            continue  # header
        if split not in SPLITS:
            raise ValueError(f"{path}:{number}: unknown split {fields[1]!r} (expected train, val or test)")
        match = ACTOR_KEY.fullmatch(key)
        table, name = (actors, int(match.group(1))) if match else (clips, key)
        if table.get(name, split) != split:
            raise ValueError(f"{path}:{number}: {key!r} is listed as {table[name]!r} and as {split!r}")
        table[name] = split
    return SplitFile(str(path), actors, clips)


def _assign_splits(parsed: list[tuple[str, str, str, str, str]], dataset: str, val_fraction: float,
                   test_fraction: float, seed: int, split_file: str = ""
                   ) -> tuple[list[Candidate], list[Rejection]]:
    """Candidates from (clip_id, path, label, actor, audio_path): whole actors in one split, by
    `actor_split`, or by the split file (then a clip neither it nor its actor is listed in is
    rejected, with its audio file)."""
    splits = read_split_file(split_file) if split_file else None
    candidates, rejections = [], []
    for clip_id, path, label, actor, audio_path in parsed:
        if splits is None:
            split = actor_split(dataset, actor, seed, val_fraction, test_fraction)
        else:
            split = splits.split_of(clip_id, actor)
            if split is None:
                reason = f"neither clip {clip_id} nor actor {actor} is listed in dataset.split_file {split_file}"
                rejections += [Rejection(clip_id, p, reason) for p in (path, audio_path) if p]
                continue
        candidates.append(Candidate(clip_id, path, label, split, dataset, audio_path))
    if splits is None and candidates:
        present = {c.split for c in candidates}
        for split, fraction in (("val", val_fraction), ("test", test_fraction)):
            if fraction > 0 and split not in present:
                log.warning("%s: no actor fell into the %s split (%d actors, fraction %.2f); change "
                            "dataset.split_seed or give dataset.split_file", dataset, split,
                            len({actor for *_, actor, _ in parsed}), fraction)
    return candidates, rejections


def afew_candidates(root: Path, test_list: str = "") -> tuple[list[Candidate], list[Rejection]]:
    """AFEW: `Train_AFEW/<Emotion>/*.avi`, `Val_AFEW/<Emotion>/*.avi` (folder names case-insensitive,
    anywhere below root); `Test_AFEW/*.avi` (flat, or in a folder that is not an emotion) are test
    clips without a label (predicted, never scored), `Test_AFEW/<Emotion>/*.avi` labelled test clips.
    Clip id = file stem. An optional test list holds one clip path per line, optionally
    `path<TAB>label`; a file it lists is taken from the list only. Every other video file below root
    is rejected with the reason."""
    candidates, rejections = [], []
    listed: set[str] = set()
    if test_list:
        list_path = Path(test_list)
        for line in list_path.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            path = _resolve(fields[0].strip(), list_path.parent)
            clip_id = clip_id_from_stem(Path(path).stem)
            raw_label = fields[1].strip() if len(fields) > 1 else ""
            label = normalize_label(raw_label) if raw_label else ""
            listed.add(os.path.realpath(path))
            if label is None:
                rejections.append(Rejection(clip_id, path, f"unknown label {raw_label!r} in AFEW test list",
                                            split="test"))
            else:
                candidates.append(Candidate(clip_id, path, label, "test", "afew"))
    for path in _video_files(root):
        if os.path.realpath(path) in listed:
            continue
        clip_id = clip_id_from_stem(path.stem)
        folders = path.relative_to(root).parts[:-1]
        position = next((i for i, name in enumerate(folders) if name.lower() in AFEW_SPLIT_FOLDERS), None)
        if position is None:
            rejections.append(Rejection(clip_id, str(path), "not in a Train_AFEW/, Val_AFEW/ or Test_AFEW/ folder"))
            continue
        split = AFEW_SPLIT_FOLDERS[folders[position].lower()]
        folder_label = folders[position + 1] if len(folders) > position + 1 else ""
        label = normalize_label(folder_label) if folder_label else None
        if label is None and split == "test":
            label = ""  # the challenge's test set: unlabelled
        if label is None:
            reason = (f"unknown AFEW emotion folder {folder_label!r}" if folder_label
                      else f"directly in {folders[position]}/, not in an emotion folder")
            rejections.append(Rejection(clip_id, str(path), reason, split=split))
        else:
            candidates.append(Candidate(clip_id, str(path), label, split, "afew"))
    return candidates, rejections


def ravdess_candidates(root: Path, calm: str, val_fraction: float, test_fraction: float, seed: int,
                       vocal_channels: Iterable[str] = ("speech", "song"), split_file: str = ""
                       ) -> tuple[list[Candidate], list[Rejection]]:
    """RAVDESS: `MM-VC-EM-IN-ST-RE-AC.mp4/.wav` (modality 01 audio-video, 02 video-only, 03
    audio-only; vocal channel 01 speech, 02 song; emotion, intensity, statement, repetition, actor)
    anywhere below root. One clip per recording (VC-EM-IN-ST-RE-AC): the audio-video file; without
    one, the video-only file with its audio-only twin as `audio_path` (no twin: a clip without audio).
    Every other file of the recording is rejected as a duplicate naming the kept file; a recording
    with audio only is rejected. Calm (02) is folded into neutral or dropped (`calm`); vocal channels
    not in `vocal_channels` are dropped. Split by actor."""
    wanted = {code for code, name in RAVDESS_VOCAL_CHANNELS.items() if name in set(vocal_channels)}
    recordings: dict[tuple[str, ...], dict[str, list[Path]]] = {}
    labels: dict[tuple[str, ...], str] = {}
    rejections = []
    for path in _media_files(root):
        clip_id = clip_id_from_stem(path.stem)
        match = RAVDESS_NAME.fullmatch(path.stem)
        if not match:
            rejections.append(Rejection(clip_id, str(path), "file name is not RAVDESS MM-VC-EM-IN-ST-RE-AC"))
            continue
        modality, channel, emotion = match.group(1), match.group(2), match.group(3)
        is_audio = path.suffix.lower() in AUDIO_SUFFIXES
        reason = ""
        if modality not in RAVDESS_MODALITIES:
            reason = f"unknown RAVDESS modality {modality} (01 audio-video, 02 video-only, 03 audio-only)"
        elif (modality == "03") != is_audio:
            reason = (f"RAVDESS modality {modality} ({RAVDESS_MODALITIES[modality]}) in a "
                      f"{path.suffix or 'suffix-less'} file")
        elif channel not in RAVDESS_VOCAL_CHANNELS:
            reason = f"unknown RAVDESS vocal channel {channel} (01 speech, 02 song)"
        elif emotion not in RAVDESS_EMOTIONS:
            reason = f"unknown RAVDESS emotion code {emotion}"
        elif channel not in wanted:
            reason = (f"RAVDESS {RAVDESS_VOCAL_CHANNELS[channel]} (vocal channel {channel}) left out by "
                      f"dataset.ravdess_vocal_channels")
        elif RAVDESS_EMOTIONS[emotion] == "calm" and calm == "drop":
            reason = "RAVDESS calm (02) dropped by dataset.ravdess_calm"
        if reason:
            rejections.append(Rejection(clip_id, str(path), reason))
            continue
        recording = match.groups()[1:]
        recordings.setdefault(recording, {}).setdefault(modality, []).append(path)
        label = RAVDESS_EMOTIONS[emotion]
        labels[recording] = "NE" if label == "calm" else label
    parsed = []
    for recording in sorted(recordings, key=lambda r: (r[-1],) + r):
        files = recordings[recording]
        name = "-".join(recording)
        videos = files.get("01", []) + files.get("02", [])
        audios = files.get("03", [])
        if not videos:
            for path in audios:
                rejections.append(Rejection(clip_id_from_stem(path.stem), str(path),
                                            f"RAVDESS recording {name} has audio only (03): no audio-video (01) "
                                            f"or video-only (02) file"))
            continue
        kept = videos[0]
        audio = audios[0] if "01" not in files and audios else None
        kept_text = _relative(kept, root) + (f" with audio from {_relative(audio, root)}" if audio else "")
        for path in videos[1:] + audios:
            if path != audio:
                rejections.append(Rejection(clip_id_from_stem(path.stem), str(path),
                                            f"duplicate of RAVDESS recording {name}: kept {kept_text}"))
        parsed.append((clip_id_from_stem(kept.stem), str(kept), labels[recording], recording[-1],
                       str(audio) if audio else ""))
    candidates, split_rejections = _assign_splits(parsed, "ravdess", val_fraction, test_fraction, seed, split_file)
    return candidates, rejections + split_rejections


def cremad_candidates(root: Path, val_fraction: float, test_fraction: float, seed: int, split_file: str = ""
                      ) -> tuple[list[Candidate], list[Rejection]]:
    """CREMA-D: `VideoFlash/AAAA_SSS_EMO_LV.flv` beside `AudioWAV/AAAA_SSS_EMO_LV.wav` (actor,
    sentence, emotion ANG DIS FEA HAP NEU SAD, level), paired by name anywhere below root: the clip
    is the video with the .wav as `audio_path`. A video without its .wav and a .wav without its video
    are rejected, as are further copies of a recording. Split by actor. CREMA-D has no surprise class."""
    videos: dict[str, list[Path]] = {}
    audios: dict[str, list[Path]] = {}
    labels: dict[str, tuple[str, str]] = {}
    rejections = []
    for path in _media_files(root):
        clip_id = clip_id_from_stem(path.stem)
        match = CREMAD_NAME.fullmatch(path.stem)
        if not match:
            rejections.append(Rejection(clip_id, str(path), "file name is not CREMA-D AAAA_SSS_EMO_LV"))
            continue
        label = CREMAD_EMOTIONS.get(match.group(3))
        if label is None:
            rejections.append(Rejection(clip_id, str(path), f"unknown CREMA-D emotion code {match.group(3)}"))
            continue
        labels[path.stem] = (label, match.group(1))
        (audios if path.suffix.lower() in AUDIO_SUFFIXES else videos).setdefault(path.stem, []).append(path)
    parsed = []
    for name in sorted(set(videos) | set(audios)):
        clip_id = clip_id_from_stem(name)
        video_files, audio_files = videos.get(name, []), audios.get(name, [])
        if not audio_files:
            rejections += [Rejection(clip_id, str(p), f"CREMA-D video without its audio (no {name}.wav, "
                                     f"as in AudioWAV/)") for p in video_files]
            continue
        if not video_files:
            rejections += [Rejection(clip_id, str(p), f"CREMA-D audio without its video (no {name}.flv, "
                                     f"as in VideoFlash/)") for p in audio_files]
            continue
        kept, audio = video_files[0], audio_files[0]
        kept_text = f"{_relative(kept, root)} with audio from {_relative(audio, root)}"
        rejections += [Rejection(clip_id, str(p), f"duplicate of CREMA-D recording {name}: kept {kept_text}")
                       for p in video_files[1:] + audio_files[1:]]
        label, actor = labels[name]
        parsed.append((clip_id, str(kept), label, actor, str(audio)))
    candidates, split_rejections = _assign_splits(parsed, "cremad", val_fraction, test_fraction, seed, split_file)
    return candidates, rejections + split_rejections


def list_candidates(list_file: Path, dataset: str = "list") -> tuple[list[Candidate], list[Rejection]]:
    """A CSV or TSV list with a header: path, label, split (and optionally clip_id). Relative paths
    are relative to the list file. An empty label is allowed for test clips (unlabelled test set)."""
    lines = list_file.read_text().splitlines()
    delimiter = "\t" if lines and "\t" in lines[0] else ","
    reader = csv.DictReader(lines, delimiter=delimiter)
    missing = {"path", "label", "split"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"{list_file}: the list needs columns path, label, split; missing {sorted(missing)}")
    candidates, rejections = [], []
    for row in reader:
        path = _resolve(row["path"].strip(), list_file.parent)
        clip_id = clip_id_from_stem((row.get("clip_id") or "").strip() or Path(path).stem)
        split = row["split"].strip().lower()
        raw_label = row["label"].strip()
        label = normalize_label(raw_label) if raw_label else ("" if split == "test" else None)
        if split not in SPLITS:
            rejections.append(Rejection(clip_id, path, f"unknown split {row['split']!r} (expected train, val or test)"))
        elif label is None:
            reason = f"unknown label {raw_label!r}" if raw_label else f"no label for a {split} clip"
            rejections.append(Rejection(clip_id, path, reason))
        else:
            candidates.append(Candidate(clip_id, path, label, split, dataset))
    return candidates, rejections


def _resolve(path: str, base: Path) -> str:
    return str(Path(path) if os.path.isabs(path) else base / path)


def dataset_candidates(dataset: Mapping, demo_list: str = "results/demo_corpus/clips.tsv"
                       ) -> tuple[list[Candidate], list[Rejection]]:
    """Dispatch on `dataset.kind`; then reject duplicate clip ids (the second and later copies)."""
    kind = dataset["kind"]
    root = Path(dataset.get("path", ""))
    split_file = dataset.get("split_file", "") or ""
    if split_file and kind not in ("ravdess", "cremad"):
        raise ValueError(f"dataset.split_file is for ravdess and cremad (actor splits); dataset.kind is {kind!r}")
    if split_file and not Path(split_file).is_file():
        raise FileNotFoundError(f"dataset.split_file {split_file!r} is not a file")
    if kind == "demo":
        candidates, rejections = list_candidates(Path(demo_list), dataset="demo")
    elif kind == "list":
        candidates, rejections = list_candidates(root)
    else:
        if not root.is_dir():
            raise FileNotFoundError(f"dataset.path {str(root)!r} is not a folder (dataset.kind={kind})")
        if kind == "afew":
            candidates, rejections = afew_candidates(root, dataset.get("afew_test_list", ""))
        elif kind == "ravdess":
            candidates, rejections = ravdess_candidates(
                root, dataset.get("ravdess_calm", "neutral"), dataset.get("val_fraction", 0.15),
                dataset.get("test_fraction", 0.15), dataset.get("split_seed", 0),
                vocal_channels=dataset.get("ravdess_vocal_channels", ("speech", "song")), split_file=split_file)
        elif kind == "cremad":
            candidates, rejections = cremad_candidates(
                root, dataset.get("val_fraction", 0.15), dataset.get("test_fraction", 0.15),
                dataset.get("split_seed", 0), split_file=split_file)
        else:
            raise ValueError(f"unknown dataset.kind {kind!r}")
    return _unique_clip_ids(candidates, rejections)


def list_dataset_inputs(dataset: Mapping) -> list[str]:
    """Files the manifest depends on, listed cheaply at DAG-build time (no probing)."""
    kind = dataset["kind"]
    root = Path(dataset["path"])
    if kind == "list":
        return [str(root)]
    if not root.is_dir():
        files = []
    elif kind in ("ravdess", "cremad"):
        files = [str(p) for p in _media_files(root)]
    else:
        files = [str(p) for p in _video_files(root)]
    if kind == "afew" and dataset.get("afew_test_list"):
        files.append(dataset["afew_test_list"])
    if dataset.get("split_file"):
        files.append(dataset["split_file"])
    return files


# pragma: no mutate block (mutation testing: probing media files, not the adapters or the splits)
def probe_candidates(candidates: Iterable[Candidate], probe: Mapping, threads: int = 1
                     ) -> tuple[list[dict], list[Rejection]]:
    """Probe every candidate (in `threads` threads); return manifest rows and probe rejections.

    A candidate with an `audio_path` (a video without sound paired with its audio file) has its
    video probed without the audio checks and its audio file probed for them; a rejected pair puts
    both files in the quarantine."""
    candidates = list(candidates)

    def probe_one(candidate: Candidate):
        try:
            if not candidate.audio_path:
                return candidate, probe_clip(candidate.path, require_audio=probe["require_audio"],
                                             min_audio_s=probe["min_audio_s"])
            info = probe_clip(candidate.path, require_audio=False, min_audio_s=0.0)
            try:
                audio_s = probe_audio(candidate.audio_path, min_audio_s=probe["min_audio_s"])
            except ClipProbeError as error:
                raise ClipProbeError(f"audio file {Path(candidate.audio_path).name}: {error}") from None
            return candidate, dataclasses.replace(info, has_audio=True, audio_duration_s=audio_s)
        except ClipProbeError as error:
            return candidate, error

    rows, rejections = [], []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for candidate, outcome in pool.map(probe_one, candidates):
            if isinstance(outcome, ClipProbeError):
                rejections += [Rejection(candidate.clip_id, path, str(outcome), stage="probe", split=candidate.split,
                                         dataset=candidate.dataset)
                               for path in (candidate.path, candidate.audio_path) if path]
                continue
            rows.append({
                "clip_id": candidate.clip_id, "split": candidate.split, "label": candidate.label,
                "path": candidate.path, "dataset": candidate.dataset,
                "duration_s": round(outcome.duration_s, 4), "fps": round(outcome.fps, 4),
                "n_frames": outcome.n_frames, "width": outcome.width, "height": outcome.height,
                "has_audio": outcome.has_audio, "audio_path": candidate.audio_path,
            })
    return rows, rejections


def pooled_candidates(datasets: Sequence[Mapping], demo_list: str = "results/demo_corpus/clips.tsv"
                      ) -> tuple[list[Candidate], list[Rejection]]:
    """The candidates of every dataset (`dataset_candidates`), each under its name (the manifest's
    `dataset` column). A clip id two datasets share becomes `<name>_<clip id>` in each of them, so
    that ids stay unique and no clip is lost to another dataset's."""
    per_dataset = []
    for entry in datasets:
        name = entry.get("name") or entry["kind"]
        candidates, rejections = dataset_candidates(entry, demo_list=demo_list)
        per_dataset.append(([dataclasses.replace(c, dataset=name) for c in candidates],
                            [dataclasses.replace(r, dataset=name) for r in rejections]))
    owners: dict[str, set[str]] = {}
    for candidates, _ in per_dataset:
        for candidate in candidates:
            owners.setdefault(candidate.clip_id, set()).add(candidate.dataset)
    shared = {clip_id for clip_id, names in owners.items() if len(names) > 1}
    if shared:
        log.warning("%d clip ids occur in more than one dataset: prefixed with the dataset's name (e.g. %s)",
                    len(shared), sorted(shared)[0])
    pooled, rejected = [], []
    for candidates, rejections in per_dataset:
        pooled += [dataclasses.replace(c, clip_id=f"{c.dataset}_{c.clip_id}") if c.clip_id in shared else c
                   for c in candidates]
        rejected += rejections
    unique, duplicates = _unique_clip_ids(pooled, [])
    by_path = {path: c.dataset for c in pooled for path in (c.path, c.audio_path) if path}
    return unique, rejected + [dataclasses.replace(r, dataset=by_path.get(r.path, "")) for r in duplicates]


def crop_folders(rows: Mapping[str, Mapping], without_crops: Iterable[str]) -> dict[str, str]:
    """{clip id: the folder of its face crops} for the manifest ``rows`` ({clip id: row}) whose dataset
    ships crops, i.e. is not among ``without_crops`` (AFEW's, named like the clip's video file). A clip
    id :func:`pooled_candidates` prefixed still finds the folder of its own name."""
    others = set(without_crops)
    return {clip_id: clip_id_from_stem(Path(row["path"]).stem)
            for clip_id, row in sorted(rows.items()) if row["dataset"] not in others}


def _unique_clip_ids(candidates: list[Candidate], rejections: list[Rejection]
                     ) -> tuple[list[Candidate], list[Rejection]]:
    """Reject the second and later candidates of one clip id (with their audio files)."""
    first_path: dict[str, str] = {}
    unique = []
    for candidate in candidates:
        if candidate.clip_id in first_path:
            reason = f"duplicate clip id (also {first_path[candidate.clip_id]})"
            rejections += [Rejection(candidate.clip_id, path, reason, split=candidate.split)
                           for path in (candidate.path, candidate.audio_path) if path]
        else:
            first_path[candidate.clip_id] = candidate.path
            unique.append(candidate)
    return unique, rejections


def build_manifest(datasets: Mapping | Sequence[Mapping], probe: Mapping, manifest_path: str | os.PathLike,
                   quarantine_path: str | os.PathLike, threads: int = 1,
                   demo_list: str = "results/demo_corpus/clips.tsv") -> tuple[int, int]:
    """Write the manifest and the quarantine table of one dataset or of several pooled ones
    (`pooled_candidates`); every input clip lands in exactly one of them."""
    entries = [datasets] if isinstance(datasets, Mapping) else list(datasets)
    candidates, rejections = pooled_candidates(entries, demo_list=demo_list)
    rows, probe_rejections = probe_candidates(candidates, probe, threads=threads)
    rejections += probe_rejections
    for rejection in rejections:
        log.warning("clip %s quarantined at %s stage: %s (%s)", rejection.clip_id, rejection.stage,
                    rejection.reason, rejection.path)
    rows.sort(key=lambda row: row["clip_id"])
    write_tsv(manifest_path, MANIFEST_COLUMNS, rows)
    write_tsv(quarantine_path, QUARANTINE_COLUMNS, [r.row() for r in rejections])
    log.info("manifest: %d clips; quarantine: %d clips", len(rows), len(rejections))
    if not rows:
        log.warning("no usable clip in %s", ", ".join(entry.get("name") or entry["kind"] for entry in entries))
    return len(rows), len(rejections)
