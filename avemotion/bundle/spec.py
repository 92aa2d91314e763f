"""The bundle's format: its member names and version, what reading it gives (`Bundle`) and the
error that names a member it refuses."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..artifacts import library_versions

FORMAT = "avemotion-bundle"
FORMAT_VERSION = 1
MANIFEST, CONFIG, METRICS, MODEL_CARD = "manifest.json", "config.json", "metrics.json", "MODEL_CARD.md"
MEMBER_SUFFIXES = (".npy", ".json", ".md")
LIBRARIES = ("torch", "numpy", "scikit-learn", "opensmile", "pyAudioAnalysis", "mediapipe", "dlib-bin", "av")
ARRAY = "__array__"  # in a model.json, {ARRAY: path} stands where model.json's tensor was


class BundleError(ValueError):
    """A bundle that cannot be read safely or as this avemotion writes them; the message names the member."""


@dataclass
class Bundle:
    """What a bundle holds, checked: its settings, fusion, metrics and the stored models' weights
    (dicts as `models.trained_model_from_weights` takes them)."""

    path: Path
    manifest: dict
    config: dict
    metrics: dict
    model_weights: dict[str, dict]
    model_card: str

    def differences(self) -> list[str]:
        """How the software that wrote the bundle differs from this one (avemotion and libraries)."""
        theirs = {"avemotion": self.manifest.get("avemotion_version"), **self.manifest.get("library_versions", {})}
        ours = {"avemotion": __version__, **json.loads(library_versions(LIBRARIES))}
        return [f"{name}: bundle written with {theirs.get(name)}, this is {ours.get(name)}"
                for name in sorted(set(theirs) | set(ours)) if theirs.get(name) != ours.get(name)]
