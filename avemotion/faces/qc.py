"""The face stage's index and QC: per-track index.tsv, the detection table and the montages."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..artifacts import atomic_output, write_tsv
from ..constants import CLASSES

FACE_INDEX_COLUMNS: tuple[str, ...] = (
    "clip_id", "split", "label", "status", "reason", "n_unique_frames", "n_faces", "detection_rate", "longest_gap_s",
)


def face_index_row(path: str | Path, manifest_row: Mapping[str, str]) -> dict[str, object]:
    import h5py

    with h5py.File(path, "r") as handle:
        return {
            "clip_id": manifest_row["clip_id"], "split": manifest_row["split"], "label": manifest_row["label"],
            "status": str(handle.attrs["status"]), "reason": str(handle.attrs["reason"]),
            "n_unique_frames": int(handle.attrs["n_unique_frames"]), "n_faces": int(handle["faces"].shape[0]),
            "detection_rate": round(float(handle.attrs["detection_rate"]), 4),
            "longest_gap_s": round(float(handle.attrs.get("longest_gap_s", 0.0)), 3),
        }


def write_face_index(manifest: Sequence[Mapping[str, str]], stacks: Mapping[str, str | Path], out_path: str | Path) -> None:
    """``results/faces/{track}/index.tsv``: one row per manifest clip. ``stacks``: {clip_id: face stack}."""
    rows = []
    for row in manifest:
        if row["clip_id"] not in stacks:
            raise ValueError(f"clip {row['clip_id']} has no face stack among the inputs")
        rows.append(face_index_row(stacks[row["clip_id"]], row))
    write_tsv(out_path, FACE_INDEX_COLUMNS, rows)


def write_detection_table(manifest: Sequence[Mapping[str, str]], stacks: Mapping[str, Mapping[str, str | Path]],
                          out_path: str | Path) -> None:
    """QC table: per clip and track, status, faces found and detection rate. ``stacks``: {track:
    {clip_id: face stack}}."""
    columns = ["clip_id", "split", "label"]
    for track in stacks:
        columns += [f"{track}_status", f"{track}_n_faces", f"{track}_detection_rate"]
    columns.append("n_unique_frames")
    rows = []
    for row in manifest:
        cells: dict[str, object] = {k: row[k] for k in ("clip_id", "split", "label")}
        for track, paths in stacks.items():
            info = face_index_row(paths[row["clip_id"]], row)
            cells.update({f"{track}_status": info["status"], f"{track}_n_faces": info["n_faces"],
                          f"{track}_detection_rate": info["detection_rate"]})
            cells["n_unique_frames"] = info["n_unique_frames"]
        rows.append(cells)
    write_tsv(out_path, columns, rows)


def _middle_face(path: str | Path) -> np.ndarray | None:
    import h5py

    with h5py.File(path, "r") as handle:
        count = handle["faces"].shape[0]
        return handle["faces"][count // 2] if count else None


def write_montage(manifest: Sequence[Mapping[str, str]], stacks: Mapping[str, Mapping[str, str | Path]], split: str,
                  out_path: str | Path, per_class: int = 4) -> None:
    """QC picture: for one split, the middle aligned face of up to ``per_class`` clips per class
    (rows: AN..SU, then "?" for unlabelled clips such as AFEW's test set), one panel per track side by
    side; grey tiles where a clip has no face."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(CLASSES) + ([""] if any(r["split"] == split and not r["label"] for r in manifest) else [])
    clips = {label: [r["clip_id"] for r in manifest if r["split"] == split and r["label"] == label][:per_class]
             for label in rows}
    figure, axes = plt.subplots(1, len(stacks), figsize=(len(stacks) * (0.9 * per_class + 0.8), 0.9 * len(rows) + 0.8),
                                squeeze=False)
    for axis, (track, paths) in zip(axes[0], stacks.items()):
        tile = 64
        canvas = np.full((tile * len(rows), tile * per_class, 3), 128, dtype=np.uint8)
        for row, label in enumerate(rows):
            for column, clip in enumerate(clips[label]):
                face = _middle_face(paths[clip]) if clip in paths else None
                if face is not None:
                    import cv2

                    canvas[row * tile:(row + 1) * tile, column * tile:(column + 1) * tile] = cv2.resize(
                        face, (tile, tile), interpolation=cv2.INTER_AREA)
        axis.imshow(canvas)
        axis.set_yticks([tile * (i + 0.5) for i in range(len(rows))], [label or "?" for label in rows])
        axis.set_xticks([])
        axis.set_title(f"track {track}")
    n_clips = sum(len(v) for v in clips.values())
    figure.suptitle(f"aligned faces, {split} split ({n_clips} clips shown)" if n_clips else f"{split}: no clips")
    figure.tight_layout()
    with atomic_output(out_path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def write_face_qc(manifest: Sequence[Mapping[str, str]], stacks: Mapping[str, Mapping[str, str | Path]],
                  montages: Mapping[str, str | Path], detection_table: str | Path) -> None:
    """Entry point of the ``faces_qc`` rule: one montage per split and the detection table."""
    for split, path in montages.items():
        write_montage(manifest, stacks, split, path)
    write_detection_table(manifest, stacks, detection_table)
