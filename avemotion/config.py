"""Loading config files the way Snakemake does: later files merged recursively over earlier ones,
then validated against schemas/config.schema.yaml."""
from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = REPO / "config.yaml"


def merge_config(base: dict, overrides: dict) -> dict:
    """Recursively merge `overrides` into a copy of `base` (dicts merge, everything else replaces)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(*paths: str | os.PathLike, validate: bool = True) -> dict:
    """config.yaml with each of `paths` merged over it, validated."""
    config: dict = {}
    for path in (DEFAULT_CONFIG, *paths):
        config = merge_config(config, yaml.safe_load(Path(path).read_text()) or {})
    if validate:
        from snakemake.utils import validate as validate_against_schema

        validate_against_schema(config, schema=str(SCHEMA))
    return config
