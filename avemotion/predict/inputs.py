"""What `avemotion predict` reads: the clips, the config and the fusion weights of a finished run."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from ..artifacts import read_fusion_weights
from ..datasets import VIDEO_SUFFIXES


def expand_clip_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Each path as given; a folder becomes its video files (any depth, sorted by path)."""
    expanded: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            expanded += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            expanded.append(path)  # a missing or unreadable file gets its message from the probe
    return expanded


def resolve_config(config: Mapping | str | os.PathLike | None) -> dict:
    """The full config dict: as given, or a config file merged over config.yaml (like Snakemake)."""
    from ..config import load_config

    if config is None:
        return load_config()
    if isinstance(config, Mapping):
        return dict(config)
    return load_config(config)


def fusion_weights_in(results_dir: str | os.PathLike) -> dict:
    """The fusion weights of a finished run's results folder (a clear error where it has none)."""
    path = Path(results_dir) / "fusion" / "weights.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no fusion weights (run the pipeline first: snakemake --cores N)")
    return read_fusion_weights(path)
