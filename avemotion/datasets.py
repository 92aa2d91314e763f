"""Dataset adapters and the clip manifest (paper section 3.1).

Every adapter turns a dataset on disk into candidate clips (clip id, path, label, split); candidates
that cannot be used are rejected with a reason. `build_manifest` probes every candidate and writes
each input clip to exactly one of `results/manifest.tsv` and `results/quarantine.tsv`.
"""
from __future__ import annotations

import csv
import logging
import os
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from .artifacts import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, write_tsv
from .constants import CLASSES, SPLITS
from .media import ClipProbeError, probe_clip

log = logging.getLogger(__name__)

# Clip ids become file names and Snakemake wildcards.
CLIP_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".flv", ".webm", ".m4v", ".mpg", ".mpeg")

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
RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
CREMAD_EMOTIONS: dict[str, str] = {"ANG": "AN", "DIS": "DI", "FEA": "FE", "HAP": "HA", "NEU": "NE", "SAD": "SA"}
CREMAD_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


@dataclass
class Candidate:
    clip_id: str
    path: str
    label: str
    split: str
    dataset: str


@dataclass
class Rejection:
    clip_id: str
    path: str
    reason: str
    stage: str = "dataset"

    def row(self) -> dict[str, str]:
        return {"clip_id": self.clip_id, "path": self.path, "stage": self.stage, "reason": self.reason}


def normalize_label(label: str) -> str | None:
    """Map a dataset's label spelling onto the paper's class codes; None when unknown."""
    return LABEL_SYNONYMS.get(label.strip().lower())


def clip_id_from_stem(stem: str) -> str:
    """A clip id usable as a file name and wildcard: invalid characters become '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", stem)
    return cleaned if re.fullmatch(CLIP_ID_PATTERN, cleaned) else f"clip_{cleaned}"


def _video_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


# --- adapters -------------------------------------------------------------------------------------


def afew_candidates(root: Path, test_list: str = "") -> tuple[list[Candidate], list[Rejection]]:
    """AFEW: `Train_AFEW/<Emotion>/*.avi`, `Val_AFEW/<Emotion>/*.avi` (case-insensitive folder names);
    clip id = file stem. An optional test list holds one clip path per line, optionally `path<TAB>label`."""
    candidates, rejections = [], []
    for split_folder in sorted(p for p in root.iterdir() if p.is_dir()):
        split = AFEW_SPLIT_FOLDERS.get(split_folder.name.lower())
        if split is None:
            continue
        for path in _video_files(split_folder):
            clip_id = clip_id_from_stem(path.stem)
            folder_label = path.relative_to(split_folder).parts[0] if len(path.relative_to(split_folder).parts) > 1 else ""
            label = normalize_label(folder_label)
            if label is None:
                rejections.append(Rejection(clip_id, str(path), f"unknown AFEW emotion folder {folder_label!r}"))
            else:
                candidates.append(Candidate(clip_id, str(path), label, split, "afew"))
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
            if label is None:
                rejections.append(Rejection(clip_id, path, f"unknown label {raw_label!r} in AFEW test list"))
            else:
                candidates.append(Candidate(clip_id, path, label, "test", "afew"))
    return candidates, rejections


def ravdess_candidates(root: Path, calm: str, val_fraction: float, test_fraction: float,
                       seed: int) -> tuple[list[Candidate], list[Rejection]]:
    """RAVDESS: `MM-VC-EM-IN-ST-RE-AC.mp4` (modality, vocal channel, emotion, intensity, statement,
    repetition, actor). Emotion 02 (calm) is folded into neutral or dropped (config); split by actor."""
    parsed, rejections = [], []
    for path in _video_files(root):
        clip_id = clip_id_from_stem(path.stem)
        match = RAVDESS_NAME.match(path.stem)
        if not match:
            rejections.append(Rejection(clip_id, str(path), "file name is not RAVDESS MM-VC-EM-IN-ST-RE-AC"))
            continue
        emotion, actor = match.group(3), match.group(7)
        label = RAVDESS_EMOTIONS.get(emotion)
        if label is None:
            rejections.append(Rejection(clip_id, str(path), f"unknown RAVDESS emotion code {emotion}"))
            continue
        if label == "calm":
            if calm == "drop":
                rejections.append(Rejection(clip_id, str(path), "RAVDESS calm (02) dropped by dataset.ravdess_calm"))
                continue
            label = "NE"
        parsed.append((clip_id, str(path), label, actor))
    return _split_by_actor(parsed, "ravdess", val_fraction, test_fraction, seed), rejections


def cremad_candidates(root: Path, val_fraction: float, test_fraction: float,
                      seed: int) -> tuple[list[Candidate], list[Rejection]]:
    """CREMA-D: `AAAA_SSS_EMO_LV` (actor, sentence, emotion ANG DIS FEA HAP NEU SAD, level); split by
    actor. CREMA-D has no surprise class."""
    parsed, rejections = [], []
    for path in _video_files(root):
        clip_id = clip_id_from_stem(path.stem)
        match = CREMAD_NAME.match(path.stem)
        if not match:
            rejections.append(Rejection(clip_id, str(path), "file name is not CREMA-D AAAA_SSS_EMO_LV"))
            continue
        label = CREMAD_EMOTIONS.get(match.group(3))
        if label is None:
            rejections.append(Rejection(clip_id, str(path), f"unknown CREMA-D emotion code {match.group(3)}"))
            continue
        parsed.append((clip_id, str(path), label, match.group(1)))
    return _split_by_actor(parsed, "cremad", val_fraction, test_fraction, seed), rejections


def _split_by_actor(parsed: list[tuple[str, str, str, str]], dataset: str, val_fraction: float,
                    test_fraction: float, seed: int) -> list[Candidate]:
    """Assign whole actors to val/test/train so that no speaker is in two splits."""
    actors = sorted({actor for *_, actor in parsed})
    random.Random(seed).shuffle(actors)
    n_val = round(len(actors) * val_fraction) if val_fraction else 0
    n_test = round(len(actors) * test_fraction) if test_fraction else 0
    if len(actors) >= 3:
        n_val, n_test = max(n_val, 1 if val_fraction else 0), max(n_test, 1 if test_fraction else 0)
    split_of = {a: "val" for a in actors[:n_val]}
    split_of.update({a: "test" for a in actors[n_val:n_val + n_test]})
    return [Candidate(clip_id, path, label, split_of.get(actor, "train"), dataset)
            for clip_id, path, label, actor in parsed]


def list_candidates(list_file: Path, dataset: str = "list") -> tuple[list[Candidate], list[Rejection]]:
    """A CSV or TSV list with a header: path, label, split (and optionally clip_id). Relative paths
    are relative to the list file. An empty label is allowed for test clips (unlabelled test set)."""
    text = list_file.read_text()
    delimiter = "\t" if "\t" in text.splitlines()[0] else ","
    rows = list(csv.DictReader(text.splitlines(), delimiter=delimiter))
    missing = {"path", "label", "split"} - set(rows[0].keys() if rows else [])
    if missing:
        raise ValueError(f"{list_file}: the list needs columns path, label, split; missing {sorted(missing)}")
    candidates, rejections = [], []
    for row in rows:
        path = _resolve(row["path"].strip(), list_file.parent)
        clip_id = clip_id_from_stem(row.get("clip_id") or Path(path).stem)
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
                dataset.get("test_fraction", 0.15), dataset.get("split_seed", 0))
        elif kind == "cremad":
            candidates, rejections = cremad_candidates(
                root, dataset.get("val_fraction", 0.15), dataset.get("test_fraction", 0.15),
                dataset.get("split_seed", 0))
        else:
            raise ValueError(f"unknown dataset.kind {kind!r}")
    first_path: dict[str, str] = {}
    unique = []
    for candidate in candidates:
        if candidate.clip_id in first_path:
            rejections.append(Rejection(candidate.clip_id, candidate.path,
                                        f"duplicate clip id (also {first_path[candidate.clip_id]})"))
        else:
            first_path[candidate.clip_id] = candidate.path
            unique.append(candidate)
    return unique, rejections


def list_dataset_inputs(dataset: Mapping) -> list[str]:
    """Files the manifest depends on, listed cheaply at DAG-build time (no probing)."""
    kind = dataset["kind"]
    root = Path(dataset["path"])
    if kind == "list":
        return [str(root)]
    files = [str(p) for p in _video_files(root)] if root.is_dir() else []
    if kind == "afew" and dataset.get("afew_test_list"):
        files.append(dataset["afew_test_list"])
    return files


# --- probing --------------------------------------------------------------------------------------


def probe_candidates(candidates: Iterable[Candidate], probe: Mapping, threads: int = 1
                     ) -> tuple[list[dict], list[Rejection]]:
    """Probe every candidate (in `threads` threads); return manifest rows and probe rejections."""
    candidates = list(candidates)

    def probe_one(candidate: Candidate):
        try:
            return candidate, probe_clip(candidate.path, require_audio=probe["require_audio"],
                                         min_audio_s=probe["min_audio_s"])
        except ClipProbeError as error:
            return candidate, error

    rows, rejections = [], []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for candidate, outcome in pool.map(probe_one, candidates):
            if isinstance(outcome, ClipProbeError):
                rejections.append(Rejection(candidate.clip_id, candidate.path, str(outcome), stage="probe"))
                continue
            rows.append({
                "clip_id": candidate.clip_id, "split": candidate.split, "label": candidate.label,
                "path": candidate.path, "dataset": candidate.dataset,
                "duration_s": round(outcome.duration_s, 4), "fps": round(outcome.fps, 4),
                "n_frames": outcome.n_frames, "width": outcome.width, "height": outcome.height,
                "has_audio": outcome.has_audio,
            })
    return rows, rejections


def build_manifest(dataset: Mapping, probe: Mapping, manifest_path: str | os.PathLike,
                   quarantine_path: str | os.PathLike, threads: int = 1,
                   demo_list: str = "results/demo_corpus/clips.tsv") -> tuple[int, int]:
    """Write the manifest and the quarantine table; every input clip lands in exactly one of them."""
    candidates, rejections = dataset_candidates(dataset, demo_list=demo_list)
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
        log.warning("no usable clip in dataset %s", dataset)
    return len(rows), len(rejections)
