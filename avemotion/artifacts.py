"""Readers and writers for the artifacts that stages hand to each other (docs/artifacts.md).

Per-clip HDF5 artifacts carry a ``status`` attribute: ``"ok"``, or ``"quarantined"`` together with a
``reason``. A stage that cannot process a clip still writes its artifact (so the workflow goes on),
marked quarantined; the models and the report read that mark.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import h5py
import numpy as np

from .constants import CLASSES

STATUS_OK = "ok"
STATUS_QUARANTINED = "quarantined"

MANIFEST_COLUMNS: tuple[str, ...] = (
    "clip_id", "split", "label", "path", "dataset", "duration_s", "fps",
    "n_frames", "width", "height", "has_audio", "audio_path",
)
# split: the split the file would have had ("" where the adapter could not tell), so that a test
# clip quarantined before the models still gets its row in the EmotiW submission table
QUARANTINE_COLUMNS: tuple[str, ...] = ("clip_id", "path", "stage", "reason", "split", "dataset")
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{c}" for c in CLASSES)
PREDICTION_COLUMNS: tuple[str, ...] = (
    ("clip_id", "split", "label") + PROBABILITY_COLUMNS + ("status", "reason")
)


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A job killed mid-write then leaves no half-written artifact under the final name.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix or ".tmp", dir=final.parent)
    # mkstemp makes the file 0600; an artifact gets the mode a plain open() would give it (umask)
    os.fchmod(fd, 0o666 & ~current_umask())
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: members carry no time of writing


def write_zip(path: str | os.PathLike, members: Sequence[tuple[str, str | bytes]]) -> None:
    """A zip of ``members`` (name, content) in the order given, deflated, with fixed dates and
    rw-r--r-- modes, so that the same members give the same bytes; written atomically."""
    with atomic_output(path, suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, content in members:
                member = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
                member.compress_type = zipfile.ZIP_DEFLATED
                member.external_attr = 0o644 << 16
                archive.writestr(member, content)


def write_tsv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Mapping[str, object]]) -> None:
    """Write rows (dicts) as a tab-separated table with a header, atomically."""
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), delimiter="\t", extrasaction="raise",
                                    lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({column: _format_cell(row.get(column, "")) for column in columns})


def _format_cell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else one_line(str(value))


def one_line(text: str) -> str:
    """``text`` with every run of whitespace that holds a line break or tab as one space: a table cell
    (a reason quoting ffmpeg's stderr, say) stays on its row for `cut`, `awk` and `join`; the full
    message is in the job's log."""
    if "\n" not in text and "\r" not in text and "\t" not in text:
        return text
    return " ".join(text.split())


def read_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Read a tab-separated table with a header into a list of dicts (all values as strings)."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def read_manifest(path: str | os.PathLike) -> list[dict[str, str]]:
    return read_tsv(path)


def write_predictions(path: str | os.PathLike, rows: Sequence[Mapping[str, object]]) -> None:
    """Write ``results/predictions/{model}.tsv``.

    Each row: clip_id, split, label, probs, status, reason. An ok row's probs are 7 finite numbers in
    CLASSES order; a quarantined row (the model could not see the clip) has probs None and is written
    with empty probability cells: it carries no class.
    """
    table = []
    for row in rows:
        status = row.get("status", STATUS_OK)
        cells = {key: row.get(key, "") for key in ("clip_id", "split", "label")}
        if status == STATUS_QUARANTINED:
            if row["probs"] is not None:
                raise ValueError(f"clip {row['clip_id']}: a quarantined row carries no probabilities")
            cells.update({column: "" for column in PROBABILITY_COLUMNS})
        elif status == STATUS_OK:
            probs = np.asarray(row["probs"], dtype=float)
            if probs.shape != (len(CLASSES),) or not np.all(np.isfinite(probs)):
                raise ValueError(f"clip {row['clip_id']}: probabilities must be 7 finite numbers, got {probs!r}")
            cells.update({column: f"{p:.8f}" for column, p in zip(PROBABILITY_COLUMNS, probs)})
        else:
            raise ValueError(f"clip {row['clip_id']}: unknown status {status!r}")
        cells["status"] = status
        cells["reason"] = row.get("reason", "")
        table.append(cells)
    write_tsv(path, PREDICTION_COLUMNS, table)


def read_predictions(path: str | os.PathLike) -> list[dict[str, object]]:
    """Read a predictions table; each row's ``probs`` is a float array of length 7, or None for a
    quarantined row (tables written before quarantined rows were left empty held uniform
    probabilities there; they are read as None too)."""
    rows: list[dict[str, object]] = []
    for row in read_tsv(path):
        parsed: dict[str, object] = {k: row[k] for k in ("clip_id", "split", "label", "status", "reason")}
        quarantined = row["status"] == STATUS_QUARANTINED
        parsed["probs"] = None if quarantined else np.array([float(row[c]) for c in PROBABILITY_COLUMNS])
        rows.append(parsed)
    return rows


@lru_cache(maxsize=None)
def library_versions(packages: tuple[str, ...]) -> str:
    """JSON {package: version} of the libraries an artifact was made with (its ``versions`` attr)."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return json.dumps(versions, sort_keys=True)


def set_status(h5_object, status: str, reason: str = "") -> None:
    """Mark an open h5py File (or group) ok or quarantined, with the reason."""
    if status not in (STATUS_OK, STATUS_QUARANTINED):
        raise ValueError(f"unknown status {status!r}")
    h5_object.attrs["status"] = status
    h5_object.attrs["reason"] = reason


def read_fusion_weights(path: str | os.PathLike) -> dict:
    """``fusion/weights.json`` as the fusion stage writes it: the fused ``models`` in order, their
    ``weights``, ``refit`` and the grid search's scores."""
    return json.loads(Path(path).read_text())


def read_status(path: str | os.PathLike) -> tuple[str, str]:
    """Return (status, reason) of a per-clip HDF5 artifact."""
    with h5py.File(path, "r") as handle:
        return str(handle.attrs.get("status", STATUS_OK)), str(handle.attrs.get("reason", ""))


@dataclass
class FaceStack:
    """A clip's face stack as the models read it (the face stage writes it: avemotion.faces.stack)."""

    faces: np.ndarray
    frame_index: np.ndarray
    timeline: np.ndarray
    status: str
    reason: str

    def timeline_faces(self) -> np.ndarray:
        """Bool [T]: which 60-fps frames have a face (the per-frame mask)."""
        return self.timeline >= 0


def read_face_stack(path: str | Path) -> FaceStack:
    """Read a clip's face stack (faces loaded fully: they are small per clip)."""
    with h5py.File(path, "r") as handle:
        return FaceStack(faces=handle["faces"][:], frame_index=handle["frame_index"][:],
                         timeline=handle["timeline"][:], status=str(handle.attrs["status"]),
                         reason=str(handle.attrs["reason"]))


@dataclass(frozen=True)
class AudioFeatures:
    """One of a clip's three audio artifacts (the audio stage writes them: avemotion.audio.artifacts)."""

    clip_id: str
    status: str
    reason: str
    data: np.ndarray  # is10 [1582], shortterm [n, 34] or maps [k, 34, 34]; empty when quarantined

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


def read_audio_features(path: str | os.PathLike) -> AudioFeatures:
    """Read any of the three audio artifacts (``features`` or ``maps``) with its status."""
    with h5py.File(path, "r") as handle:
        data = handle["maps"][()] if "maps" in handle else handle["features"][()]
        return AudioFeatures(clip_id=str(handle.attrs["clip_id"]),
                             status=str(handle.attrs["status"]), reason=str(handle.attrs["reason"]),
                             data=data)
