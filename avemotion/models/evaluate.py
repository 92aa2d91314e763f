"""A trained model on a dataset it never trained on (cross-corpus evaluation,
docs/datasets.md#cross-corpus-evaluation).

Every clip of the evaluation dataset is predicted, whatever its split: none of them trained a model
or chose a fusion weight. The rows keep the clip's own split and label, so the report can score the
whole dataset or any split of it. Predictions go through `predict_clip_probabilities`, the function
of the training run's own val and test rows (`fusion.fuse_with_chosen_weights` fuses them).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping

from ..artifacts import STATUS_OK, write_predictions
from ..constants import SPLITS
from .clips import load_clips
from .outputs import prediction_rows
from .trained import ARCHITECTURE_INPUT, load_trained_model, predict_clip_probabilities

log = logging.getLogger(__name__)

StrPath = str | os.PathLike


def predict_dataset(checkpoint: StrPath, manifest: StrPath, clip_files: Mapping[str, StrPath],
                    predictions: StrPath, device: str = "cpu") -> list[dict]:
    """One model's prediction rows for every clip of `manifest` ({clip_id: its input artifact} in
    `clip_files`); a clip without a usable artifact gets a quarantined row with the reason."""
    trained = load_trained_model(checkpoint, device)
    clips = load_clips(manifest, clip_files, ARCHITECTURE_INPUT[trained.architecture])
    rows = prediction_rows(clips, SPLITS, lambda clip: predict_clip_probabilities(trained, clip.path))
    write_predictions(predictions, rows)
    n_ok = sum(row["status"] == STATUS_OK for row in rows)
    log.info("%s on %s: %d of %d clips predicted", trained.name, Path(manifest).parent.name, n_ok, len(rows))
    return rows
