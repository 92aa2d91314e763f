"""Cross-corpus evaluation (docs/datasets.md#cross-corpus-evaluation): a dataset the models never
trained on, predicted clip by clip by each trained model and fused with the weights the fusion chose
on the training datasets' val split.

Every clip of the evaluation dataset is predicted, whatever its split: none of them trained a model
or chose a weight. The rows keep the clip's own split and label, so the report can score the whole
dataset or any split of it. Predictions go through `predict_clip_probabilities` and
`fusion.fused_rows`, the functions of the training run's own val and test rows.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from .artifacts import STATUS_OK, write_predictions
from .constants import SPLITS
from .fusion import fused_rows, load_predictions

log = logging.getLogger(__name__)

StrPath = str | os.PathLike


def predict_dataset(checkpoint: StrPath, manifest: StrPath, clip_files: Mapping[str, StrPath],
                    predictions: StrPath, device: str = "cpu") -> list[dict]:
    """One model's prediction rows for every clip of `manifest` ({clip_id: its input artifact} in
    `clip_files`); a clip without a usable artifact gets a quarantined row with the reason."""
    from .models.clips import load_clips
    from .models.outputs import prediction_rows
    from .models.trained import ARCHITECTURE_INPUT, load_trained_model, predict_clip_probabilities

    trained = load_trained_model(checkpoint, device)
    clips = load_clips(manifest, clip_files, ARCHITECTURE_INPUT[trained.architecture])
    rows = prediction_rows(clips, SPLITS, lambda clip: predict_clip_probabilities(trained, clip.path))
    write_predictions(predictions, rows)
    n_ok = sum(row["status"] == STATUS_OK for row in rows)
    log.info("%s on %s: %d of %d clips predicted", trained.name, Path(manifest).parent.name, n_ok, len(rows))
    return rows


def fuse_dataset(prediction_paths: Mapping[str, StrPath], weights: StrPath, fused: StrPath) -> list[dict]:
    """The fused rows of an evaluation dataset: its models' predictions (`prediction_paths`, in the
    fusion's model order) with the weights of `weights.json`."""
    chosen = json.loads(Path(weights).read_text())
    if list(prediction_paths) != list(chosen["models"]):
        raise ValueError(f"{weights} fuses {chosen['models']}, the predictions given are of {list(prediction_paths)}")
    aligned = load_predictions(prediction_paths)
    rows = fused_rows(aligned, np.array([chosen["weights"][model] for model in aligned.models]))
    write_predictions(fused, rows)
    return rows
