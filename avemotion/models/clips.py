"""The clips a model sees: every manifest clip with its per-clip artifact for the model's input
(docs/artifacts.md) and whether that artifact can be used."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..artifacts import STATUS_OK, STATUS_QUARANTINED, read_manifest, read_status
from ..constants import CLASSES

CLASS_INDEX: dict[str, int] = {c: i for i, c in enumerate(CLASSES)}


@dataclass(frozen=True)
class Clip:
    """One manifest row as the models see it: where its input is and whether it can be used."""

    clip_id: str
    split: str
    label: str  # "" for unlabelled test clips
    path: Path | None
    status: str
    reason: str

    @property
    def target(self) -> int:
        return CLASS_INDEX[self.label] if self.label else -1


def load_clips(manifest_path: str | Path, clip_files: Mapping[str, str | Path], modality: str) -> list[Clip]:
    """Every manifest clip with its artifact for `modality` (from `clip_files`, {clip_id: path}) and
    that artifact's status.

    A clip without an artifact (e.g. no audio stream) or with a quarantined one is kept, marked
    quarantined with a reason that names the clip: it never trains, and its prediction row has status
    quarantined and no probabilities.
    """
    return [manifest_clip(row, clip_files.get(row["clip_id"]), modality) for row in read_manifest(manifest_path)]


def manifest_clip(row: Mapping[str, str], path: str | Path | None, modality: str) -> Clip:
    clip_id, split, label = row["clip_id"], row["split"], row.get("label", "") or ""
    if path is None:
        reason = f"{clip_id}: no {modality} artifact (has_audio={row.get('has_audio', '')})"
        return Clip(clip_id, split, label, None, STATUS_QUARANTINED, reason)
    status, reason = read_status(path)
    if status != STATUS_OK:
        reason = f"{clip_id}: {modality} quarantined: {reason}"
    return Clip(clip_id, split, label, Path(path), status, reason)


def training_clips(clips: Sequence[Clip], train_splits: Sequence[str]) -> list[Clip]:
    """Labelled, usable clips of the training splits (quarantined clips never train)."""
    return [c for c in clips if c.split in train_splits and c.status == STATUS_OK and c.label]
