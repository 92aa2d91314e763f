"""Shards: the per-clip stages (media, faces, audio) run one job per shard of clips, not per clip.

A clip's shard is a hash of its clip id modulo ``config["shards"]``: it never depends on the other
clips, so adding clips to a dataset reruns only the shards they land in (docs/scale.md). A shard
job writes one folder of per-clip files (:mod:`avemotion.layout`); one clip that fails unexpectedly
is written quarantined with its reason and the shard's other clips go on.
Last, the job writes its shard table (``<stage dir>/shard_<shard>.tsv``: each clip and the error it
raised, if any), so a job killed mid-way leaves that output missing and is planned again: Snakemake
does not check its incomplete markers on jobs that appear after a checkpoint (the manifest).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Callable, Iterable

log = logging.getLogger(__name__)

SHARD_PATTERN = r"\d+"


def clip_shard(clip_id: str, n_shards: int) -> str:
    """The shard of a clip: ``"00"`` .. ``f"{n_shards - 1}"``, zero-padded to one width."""
    if n_shards < 1:
        raise ValueError(f"shards must be at least 1, not {n_shards}")
    digest = hashlib.sha1(clip_id.encode("utf-8")).digest()
    width = len(str(n_shards - 1))
    return f"{int.from_bytes(digest[:8], 'big') % n_shards:0{width}d}"


def clips_by_shard(clip_ids: Iterable[str], n_shards: int) -> dict[str, list[str]]:
    """{shard: sorted clip ids} over the shards that hold at least one clip."""
    shards: dict[str, list[str]] = {}
    for clip_id in sorted(clip_ids):
        shards.setdefault(clip_shard(clip_id, n_shards), []).append(clip_id)
    return dict(sorted(shards.items()))


SHARD_TABLE_COLUMNS: tuple[str, ...] = ("clip_id", "error")


def run_each_clip(clip_ids: Iterable[str], stage: str, process: Callable[[str], object],
                  quarantine: Callable[[str, str], object], table_path: str | Path) -> dict[str, str]:
    """``process(clip_id)`` for every clip of a shard. A clip whose processing raises is logged with its
    traceback and handed to ``quarantine(clip_id, failure)``, which writes its artifacts quarantined
    (``failure`` says what raised; the clip id is the caller's to add). The other clips go on.
    Then writes the shard table ``table_path``. Returns {clip_id: failure} of the clips that raised."""
    from .artifacts import write_tsv

    clip_ids = list(clip_ids)
    failed: dict[str, str] = {}
    for clip_id in clip_ids:
        try:
            process(clip_id)
        except Exception as error:
            log.exception("clip %s: %s failed", clip_id, stage)
            reason = f"{stage} failed ({type(error).__name__}: {error})"
            quarantine(clip_id, reason)
            failed[clip_id] = reason
    if failed:
        log.warning("%s: %d clip(s) quarantined by an unexpected error: %s", stage, len(failed), sorted(failed))
    write_tsv(table_path, SHARD_TABLE_COLUMNS,
              [{"clip_id": clip_id, "error": failed.get(clip_id, "")} for clip_id in clip_ids])
    return failed
