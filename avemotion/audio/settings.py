"""The audio stage's settings (config `audio:` block; each rule gets only the sub-blocks it uses)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from ..constants import (
    AUDIO_MAP_SIZE,
    AUDIO_MAP_STEP,
    MIN_AUDIO_MAPS,
    MIN_SHORT_TERM_SEQUENCE,
    SHORT_TERM_STEP_S,
    SHORT_TERM_WINDOW_S,
)


class _FromConfig:
    """Settings dataclasses built from their config block, values coerced to the field types."""

    @classmethod
    def from_config(cls, block: Mapping[str, object]):
        return cls(**{key: _field_type(cls, key)(value) for key, value in block.items()})


@dataclass(frozen=True)
class AudioChecks(_FromConfig):
    """Limits that decide whether a clip's audio is usable (config ``audio.checks``; not paper
    values, so their defaults live in config.yaml only)."""

    min_duration_s: float
    silence_dbfs: float
    max_clipped_fraction: float


@dataclass(frozen=True)
class ShortTermSettings(_FromConfig):
    """Paper 2.3 (config ``audio.shortterm``): window, step and minimum sequence length."""

    window_s: float = SHORT_TERM_WINDOW_S
    step_s: float = SHORT_TERM_STEP_S
    min_sequence_length: int = MIN_SHORT_TERM_SEQUENCE


@dataclass(frozen=True)
class MapSettings(_FromConfig):
    """Paper 2.4 (config ``audio.maps``): map width, tiling step and minimum number of maps."""

    size: int = AUDIO_MAP_SIZE
    step: int = AUDIO_MAP_STEP
    min_maps: int = MIN_AUDIO_MAPS


def _field_type(settings_class, key: str):
    """The int/float type of a settings field (a value given on the command line may be a string)."""
    fields = {field.name: field for field in dataclasses.fields(settings_class)}
    if key not in fields:
        raise ValueError(f"unknown {settings_class.__name__} setting {key!r}")
    return {"int": int, "float": float}[fields[key].type]
