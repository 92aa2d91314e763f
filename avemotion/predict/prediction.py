"""What `avemotion predict` says of a clip: the fused prediction, each model's, and what happened."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..constants import CLASS_NAMES, CLASSES

STEPS: tuple[str, ...] = ("probe", "media", "faces", "audio", "models", "fusion")

STATUS_PARTIAL, STATUS_FAILED, STATUS_UNAVAILABLE = "partial", "failed", "unavailable"


@dataclass
class ModelPrediction:
    """One model's output for one clip."""

    model: str
    status: str  # ok | unavailable
    probs: np.ndarray | None  # [7] in CLASSES order; None when unavailable
    weight: float  # the fusion weight of results/fusion/weights.json
    used_weight: float  # the weight actually used for this clip (renormalised; 0 when unavailable)
    reason: str = ""

    @property
    def label(self) -> str | None:
        return None if self.probs is None else CLASSES[int(np.argmax(self.probs))]

    def to_dict(self) -> dict:
        return {"model": self.model, "status": self.status, "label": self.label,
                "probabilities": _probability_dict(self.probs), "weight": self.weight,
                "used_weight": self.used_weight, "reason": self.reason}


@dataclass
class ClipPrediction:
    """The fused prediction of one clip, each model's, and what happened on the way."""

    path: str
    clip_id: str
    status: str  # ok (every model saw the clip) | partial (some could not) | failed (no prediction)
    probs: np.ndarray | None  # fused [7]; None when failed
    models: dict[str, ModelPrediction] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    # seconds per step (STEPS), plus faces_{track} and model_{model} inside "faces" and "models"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str | None:
        return None if self.probs is None else CLASSES[int(np.argmax(self.probs))]

    @property
    def label_name(self) -> str | None:
        return None if self.label is None else CLASS_NAMES[self.label]

    def to_dict(self) -> dict:
        return {"path": self.path, "clip_id": self.clip_id, "status": self.status, "label": self.label,
                "label_name": self.label_name, "probabilities": _probability_dict(self.probs),
                "models": {name: model.to_dict() for name, model in self.models.items()},
                "messages": list(self.messages), "timings_s": {k: round(v, 4) for k, v in self.timings.items()}}


def _probability_dict(probs: np.ndarray | None) -> dict[str, float] | None:
    return None if probs is None else {c: float(p) for c, p in zip(CLASSES, probs)}
