"""``results/audio/index.tsv``: every manifest clip with the status of its three audio artifacts."""
from __future__ import annotations

import logging
import os
from typing import Mapping

from ..artifacts import STATUS_OK, STATUS_QUARANTINED, read_tsv, write_tsv
from .artifacts import FEATURES

log = logging.getLogger(__name__)

INDEX_COLUMNS: tuple[str, ...] = (
    "clip_id", "split", "label", "status", "reason", "duration_s", "n_shortterm", "n_maps",
    "n_shortterm_raw", "n_maps_raw", "is10_status", "shortterm_status", "maps_status",
)


def _artifact_summary(path: str | os.PathLike) -> dict[str, object]:
    import h5py

    with h5py.File(path, "r") as handle:
        data = handle["maps"] if "maps" in handle else handle["features"]
        return {"status": str(handle.attrs["status"]), "reason": str(handle.attrs["reason"]),
                "rows": int(data.shape[0]), "attrs": dict(handle.attrs)}


def write_audio_index(manifest_path: str | os.PathLike, artifact_paths: Mapping[str, Mapping[str, str]],
                      output_path: str | os.PathLike) -> None:
    """Write ``results/audio/index.tsv``: one row per manifest clip, quarantined if any feature is.

    ``artifact_paths``: for each of FEATURES, {clip_id: its h5 artifact}.
    """
    by_clip: dict[str, dict[str, dict[str, object]]] = {}
    for feature in FEATURES:
        for clip_id, path in artifact_paths[feature].items():
            by_clip.setdefault(clip_id, {})[feature] = _artifact_summary(path)
    rows = []
    for clip in read_tsv(manifest_path):
        clip_id = clip["clip_id"]
        summaries = by_clip.get(clip_id, {})
        missing = [f for f in FEATURES if f not in summaries]
        if missing:
            raise ValueError(f"clip {clip_id}: no audio artifact for {', '.join(missing)}")
        reasons = []
        for feature in FEATURES:
            reason = summaries[feature]["reason"]
            if summaries[feature]["status"] != STATUS_OK and reason not in reasons:
                reasons.append(reason)
        shortterm = summaries["shortterm"]
        maps = summaries["maps"]
        rows.append({
            "clip_id": clip_id, "split": clip["split"], "label": clip["label"],
            "status": STATUS_QUARANTINED if reasons else STATUS_OK,
            "reason": "; ".join(reasons),
            "duration_s": round(float(shortterm["attrs"]["duration_s"]), 4),
            "n_shortterm": shortterm["rows"], "n_maps": maps["rows"],
            "n_shortterm_raw": int(shortterm["attrs"]["n_frames_raw"]),
            "n_maps_raw": int(maps["attrs"]["n_maps_raw"]),
            **{f"{feature}_status": summaries[feature]["status"] for feature in FEATURES},
        })
    write_tsv(output_path, INDEX_COLUMNS, rows)
    log.info("audio index: %d clips, %d quarantined", len(rows), sum(r["status"] != STATUS_OK for r in rows))
