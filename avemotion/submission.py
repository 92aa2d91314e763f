"""The EmotiW submission: the fused network's prediction for every test clip, as the challenge
takes it.

The organisers ask for a zip of one ``<clip id>.txt`` per test clip, each holding one emotion name
(``Angry``, ``Disgust``, ``Fear``, ``Happy``, ``Neutral``, ``Sad``, ``Surprise``;
`avemotion.constants.EMOTIW_EMOTIONS`), the zip named after the team. The prediction is the fused
row of ``results/predictions/fusion.tsv``: in refit mode (``fusion.refit``, paper 3.2) its test rows
already come from the models retrained on train+val with the val-chosen weights.

A test clip without a fused prediction (every model quarantined it) or one the manifest stage
quarantined (``quarantine.tsv`` rows of split ``test``) gets no ``.txt``, but a row in
``predictions.tsv`` with the reason: the challenge counts a missing file as wrong.

Files written to ``results/submission/``: ``submission.zip`` (the ``.txt`` files at the zip's root,
sorted, with a fixed date, so that the same predictions give the same bytes) and ``predictions.tsv``
(`SUBMISSION_COLUMNS`, one row per test clip).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .artifacts import STATUS_OK, read_predictions, read_tsv, write_tsv, write_zip
from .constants import CLASSES, EMOTIW_EMOTIONS
from .metrics import predicted_index

log = logging.getLogger(__name__)

SUBMISSION_SPLIT = "test"
SUBMISSION_COLUMNS: tuple[str, ...] = (
    "clip_id", "predicted", "emotion", "class", "file", "label", "quarantined_at", "reason",
)


@dataclass(frozen=True)
class SubmissionEntry:
    """One test clip of the submission: its emotion, or why it has none."""

    clip_id: str
    class_code: str  # AN ... SU; "" without a prediction
    label: str  # the true class where the clip is labelled, else ""
    reason: str  # why there is no prediction, or which models the fusion left out; "" otherwise
    quarantined_at: str = ""  # the stage of quarantine.tsv (dataset, probe) that kept it from the models

    @property
    def predicted(self) -> bool:
        return bool(self.class_code)

    @property
    def emotion(self) -> str:
        return emotion_name(self.class_code) if self.class_code else ""

    @property
    def file_name(self) -> str:
        return f"{self.clip_id}.txt" if self.predicted else ""

    def row(self) -> dict[str, object]:
        return {"clip_id": self.clip_id, "predicted": self.predicted, "emotion": self.emotion,
                "class": self.class_code, "file": self.file_name, "label": self.label,
                "quarantined_at": self.quarantined_at, "reason": self.reason}


def emotion_name(class_code: str) -> str:
    """The EmotiW emotion name of a class code (``AN`` -> ``Angry``)."""
    try:
        return EMOTIW_EMOTIONS[class_code]
    except KeyError:
        raise ValueError(f"unknown class {class_code!r}; expected one of {CLASSES}") from None


def submission_entries(fused_rows: Sequence[Mapping[str, object]], manifest_rows: Sequence[Mapping[str, str]],
                       quarantine_rows: Sequence[Mapping[str, str]] = (),
                       datasets: Sequence[str] = ()) -> list[SubmissionEntry]:
    """One entry per test clip, sorted by clip id: every manifest clip of split ``test`` (its fused
    class, or the fused row's reason when no model saw it) and every quarantined file of split
    ``test`` (no prediction, the quarantine's stage and reason; a clip with two quarantined files,
    a video and its audio, is listed once). With `datasets` (the AFEW datasets of a pooled training
    set), only the test clips of those datasets: the challenge's test set is AFEW's."""
    if datasets:
        manifest_rows = [row for row in manifest_rows if row.get("dataset") in datasets]
        quarantine_rows = [row for row in quarantine_rows if row.get("dataset") in datasets]
        kept = {row["clip_id"] for row in manifest_rows}
        fused_rows = [row for row in fused_rows if str(row["clip_id"]) in kept]
    fused = {str(row["clip_id"]): row for row in fused_rows if row["split"] == SUBMISSION_SPLIT}
    entries: dict[str, SubmissionEntry] = {}
    for clip in manifest_rows:
        if clip.get("split") != SUBMISSION_SPLIT:
            continue
        clip_id, label = clip["clip_id"], clip.get("label", "") or ""
        row = fused.get(clip_id)
        if row is None:
            entry = SubmissionEntry(clip_id, "", label, f"clip {clip_id}: not in the fused predictions")
        elif row["status"] != STATUS_OK or row["probs"] is None:
            entry = SubmissionEntry(clip_id, "", label, str(row.get("reason", "") or f"clip {clip_id} quarantined"))
        else:
            entry = SubmissionEntry(clip_id, CLASSES[predicted_index(row["probs"])], label,
                                    str(row.get("reason", "") or ""))
        entries[clip_id] = entry
    for rejected in quarantine_rows:
        clip_id = rejected["clip_id"]
        if rejected.get("split", "") != SUBMISSION_SPLIT or clip_id in entries:
            continue
        stage = rejected.get("stage", "") or "probe"
        reason = f"quarantined at {stage}: {rejected.get('reason', '')} ({rejected.get('path', '')})"
        entries[clip_id] = SubmissionEntry(clip_id, "", "", reason, quarantined_at=stage)
    extra = sorted(set(fused) - set(entries))
    if extra:
        log.warning("%d fused test clips are not in the manifest and are left out: %s", len(extra), extra[:5])
    return [entries[clip_id] for clip_id in sorted(entries)]


def class_counts(entries: Sequence[SubmissionEntry]) -> dict[str, int]:
    """Predicted clips per emotion name (EmotiW order), then ``no prediction``."""
    counts = {EMOTIW_EMOTIONS[c]: 0 for c in CLASSES}
    for entry in entries:
        if entry.predicted:
            counts[entry.emotion] += 1
    counts["no prediction"] = sum(1 for entry in entries if not entry.predicted)
    return counts


def write_submission_zip(path: str | os.PathLike, entries: Sequence[SubmissionEntry]) -> int:
    """The zip the challenge takes: ``<clip id>.txt`` holding the emotion name (no newline) for each
    predicted entry, at the archive's root; returns how many files it holds."""
    predicted = sorted((e for e in entries if e.predicted), key=lambda e: e.file_name)
    write_zip(path, [(entry.file_name, entry.emotion) for entry in predicted])
    return len(predicted)


def build_submission(fused_predictions_path: str | os.PathLike, manifest_path: str | os.PathLike,
                     quarantine_path: str | os.PathLike, zip_path: str | os.PathLike,
                     table_path: str | os.PathLike, datasets: Sequence[str] = ()) -> list[SubmissionEntry]:
    """The submission stage: read the fused predictions, the manifest and the quarantine, write
    ``submission.zip`` and ``predictions.tsv`` (of the test clips of `datasets` only, when given)."""
    entries = submission_entries(read_predictions(fused_predictions_path), read_tsv(manifest_path),
                                 read_tsv(quarantine_path), datasets)
    n_files = write_submission_zip(zip_path, entries)
    write_tsv(table_path, SUBMISSION_COLUMNS, [entry.row() for entry in entries])
    counts = class_counts(entries)
    log.info("submission: %d test clips, %d .txt files in %s; %s", len(entries), n_files, Path(zip_path).name,
             ", ".join(f"{name} {count}" for name, count in counts.items()))
    for entry in entries:
        if not entry.predicted:
            log.warning("test clip %s has no prediction: %s", entry.clip_id, entry.reason)
    return entries
