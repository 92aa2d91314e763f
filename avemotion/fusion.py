"""Decision fusion of the five models (paper section 3.2).

"The aforementioned deep models are combined using decision fusion. Grid search is employed to find
the model weights that maximize the classification accuracy on the validation set." The fused class
probabilities of a clip are the weighted sum of the models' probabilities; the weights lie on a
simplex grid (non-negative, summing to one, multiples of the grid step). Ties in validation accuracy
are broken by UAR, then by fewer models, then by grid order (deterministic). For the paper's test
submission the models were retrained on train+val and the val-chosen weights applied to them
(refit mode).

A clip that some models cannot see (their row is quarantined: no face on that track, no or silent
audio) is fused over the models that saw it, with their weights renormalised to sum to one; when
every model that saw it has weight 0 they get equal weights. A clip no model saw gets no prediction
(a quarantined row with every model's reason), scored as a miss. `fuse_probabilities` is that one
rule: the pipeline's fused rows, the grid search on val (every weight vector is scored with it) and
`avemotion predict` (`fuse_available`, one clip) all call it. Not in the paper, which does not say what
it did with clips without a face.
"""
from __future__ import annotations

import itertools
import json
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from .artifacts import (
    STATUS_OK,
    STATUS_QUARANTINED,
    atomic_output,
    read_fusion_weights,
    read_predictions,
    write_predictions,
)
from .constants import N_CLASSES
from .metrics import NO_PREDICTION, label_indices, predicted_indices, summarize

log = logging.getLogger(__name__)

# Grid points evaluated at once are limited so that the fused tensor stays near this many floats.
_MAX_FUSED_CELLS = 8_000_000


@dataclass
class AlignedPredictions:
    """Every model's predictions on one common, ordered set of clips."""

    models: tuple[str, ...]
    clip_ids: list[str]
    splits: np.ndarray  # [N] str
    labels: np.ndarray  # [N] str, "" for unlabelled clips
    probs: np.ndarray  # [M, N, 7] in CLASSES order; NaN where the model did not see the clip
    ok: np.ndarray  # [M, N] bool: the model saw the clip (its row has status ok)
    reasons: list[list[str]] = field(default_factory=list)  # [M][N] quarantine reasons

    def subset(self, mask: np.ndarray) -> "AlignedPredictions":
        index = np.flatnonzero(mask)
        return AlignedPredictions(
            models=self.models,
            clip_ids=[self.clip_ids[i] for i in index],
            splits=self.splits[index],
            labels=self.labels[index],
            probs=self.probs[:, index],
            ok=self.ok[:, index],
            reasons=[[reasons[i] for i in index] for reasons in self.reasons],
        )


def align_predictions(tables: Mapping[str, Sequence[Mapping[str, object]]]) -> AlignedPredictions:
    """Align the models' prediction rows on clip id (ordered by split, then clip id).

    A clip that one model lacks counts as not seen by that model (like a quarantined row), with a
    reason naming the clip, so no clip is silently dropped from the fusion.
    A clip whose split or label differs between models is an error.
    """
    models = tuple(tables)
    if not models:
        raise ValueError("decision fusion needs at least one model")
    clip_info: dict[str, tuple[str, str]] = {}
    by_model: dict[str, dict[str, Mapping[str, object]]] = {}
    for model, rows in tables.items():
        by_model[model] = {}
        for row in rows:
            clip_id = str(row["clip_id"])
            info = (str(row["split"]), str(row.get("label", "") or ""))
            known = clip_info.setdefault(clip_id, info)
            if known != info:
                raise ValueError(
                    f"clip {clip_id}: split/label {info} in {model} predictions differ from {known} "
                    f"in another model's predictions"
                )
            by_model[model][clip_id] = row
    clip_ids = sorted(clip_info, key=lambda c: (clip_info[c][0], c))
    probs = np.full((len(models), len(clip_ids), N_CLASSES), np.nan)
    ok = np.zeros((len(models), len(clip_ids)), dtype=bool)
    reasons = [[""] * len(clip_ids) for _ in models]
    for m, model in enumerate(models):
        for n, clip_id in enumerate(clip_ids):
            row = by_model[model].get(clip_id)
            if row is None:
                reasons[m][n] = f"clip {clip_id} missing from {model} predictions"
                continue
            ok[m, n] = row.get("status", STATUS_OK) == STATUS_OK and row["probs"] is not None
            if ok[m, n]:
                probs[m, n] = np.asarray(row["probs"], dtype=float)
            else:
                reasons[m][n] = str(row.get("reason", "") or f"clip {clip_id} quarantined")
    missing = [(model, sum(1 for r in reasons[m] if "missing from" in r)) for m, model in enumerate(models)]
    for model, count in missing:
        if count:
            log.warning("%d clips missing from %s predictions: fused without that model", count, model)
    return AlignedPredictions(
        models=models,
        clip_ids=clip_ids,
        splits=np.array([clip_info[c][0] for c in clip_ids], dtype=object),
        labels=np.array([clip_info[c][1] for c in clip_ids], dtype=object),
        probs=probs,
        ok=ok,
        reasons=reasons,
    )


def load_predictions(paths: Mapping[str, str | os.PathLike]) -> AlignedPredictions:
    """Read `results/predictions/{model}.tsv` for each model and align them."""
    return align_predictions({model: read_predictions(path) for model, path in paths.items()})


def grid_resolution(step: float) -> int:
    """Number of grid steps in [0, 1]; the step must divide 1."""
    if not 0 < step <= 1:
        raise ValueError(f"fusion grid step must be in (0, 1], got {step}")
    resolution = round(1.0 / step)
    if not math.isclose(resolution * step, 1.0, rel_tol=0, abs_tol=1e-9):
        raise ValueError(f"fusion grid step {step} does not divide 1 (1/step = {1.0 / step})")
    return resolution


def simplex_grid(n_models: int, step: float) -> np.ndarray:
    """All weight vectors (w_1..w_M) with w_i >= 0, sum 1, each a multiple of `step`.

    Stars and bars: choosing M-1 bar positions among K+M-1 slots (K = 1/step) gives each
    composition of K into M parts exactly once, C(K+M-1, M-1) points (10626 for 5 models at 0.05).
    Returns the integer step counts [P, M]; divide by K for the weights.
    """
    if n_models < 1:
        raise ValueError("the simplex grid needs at least one model")
    resolution = grid_resolution(step)
    slots = resolution + n_models - 1
    n_points = math.comb(slots, n_models - 1)
    bars = np.fromiter(
        itertools.chain.from_iterable(itertools.combinations(range(slots), n_models - 1)),
        dtype=np.int64,
        count=n_points * (n_models - 1),
    ).reshape(n_points, n_models - 1)
    edges = np.concatenate(
        [np.full((n_points, 1), -1), bars, np.full((n_points, 1), slots)], axis=1
    )
    return np.diff(edges, axis=1) - 1


def clip_weights(weights: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The weight each model gets on each clip: weights [..., M], seen [M, N] bool -> [..., M, N].

    The weights of the models that saw a clip, renormalised to sum to one; equal weights over them
    when they all have weight 0; all zero when no model saw the clip.
    """
    seen = np.asarray(seen, dtype=bool)
    masked = np.asarray(weights, dtype=float)[..., :, None] * seen  # [..., M, N]
    total = _sum_over_models(masked[..., m, :] for m in range(seen.shape[0]))[..., None, :]  # [..., 1, N]
    equal = seen / np.maximum(seen.sum(axis=0), 1)  # [M, N]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, masked / total, equal)


def fuse_probabilities(probs: np.ndarray, seen: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fused probabilities of every clip over the models that saw it (`clip_weights`).

    probs [M, N, 7] (rows of unseen clips are ignored, NaN allowed), seen [M, N] bool, weights [M]
    or a batch of weight vectors [P, M] -> [N, 7] or [P, N, 7]; NaN rows for the clips no model saw.
    """
    seen = np.asarray(seen, dtype=bool)
    per_clip = clip_weights(weights, seen)
    seen_probs = np.where(seen[..., None], probs, 0.0)
    fused = _sum_over_models(per_clip[..., m, :, None] * seen_probs[m] for m in range(seen.shape[0]))
    fused[..., ~seen.any(axis=0), :] = np.nan
    return fused


def _sum_over_models(terms: Iterable[np.ndarray]) -> np.ndarray:
    """One model's term after the other, in model order: a clip's fused value is then bit for bit
    the same whether it is fused alone (predict), with the others (the pipeline) or in a batch of
    grid points (the grid search)."""
    terms = iter(terms)
    total = np.array(next(terms), dtype=float)
    for term in terms:
        total += term
    return total


def fused_classes(fused: np.ndarray) -> np.ndarray:
    """The argmax class of each fused row [..., N, 7] -> [..., N]; NO_PREDICTION for NaN rows."""
    missing = np.isnan(fused).any(axis=-1)
    return np.where(missing, NO_PREDICTION, np.where(missing[..., None], 0.0, fused).argmax(axis=-1))


def evaluate_grid(weights: np.ndarray, probs: np.ndarray, seen: np.ndarray, true: np.ndarray,
                  n_classes: int = N_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """Number of correct clips and UAR of every weight vector, fused with `fuse_probabilities`.

    weights [P, M], probs [M, N, 7], seen [M, N] bool, true [N] class indices. A clip no model saw
    is wrong for every weight vector. Evaluated in chunks of grid points. Returns (correct counts
    [P] int, UAR [P] float).
    """
    weights = np.asarray(weights, dtype=float)
    true = np.asarray(true, dtype=int)
    n_clips = probs.shape[1]
    onehot = (true[:, None] == np.arange(n_classes)).astype(float)  # [N, C]
    support = onehot.sum(axis=0)
    present = support > 0
    chunk = max(1, _MAX_FUSED_CELLS // max(1, n_clips * n_classes))
    correct_counts = np.empty(len(weights), dtype=np.int64)
    uars = np.empty(len(weights))
    for start in range(0, len(weights), chunk):
        block = weights[start:start + chunk]
        predicted = fused_classes(fuse_probabilities(probs, seen, block))  # [p, N]
        correct = predicted == true
        correct_counts[start:start + chunk] = correct.sum(axis=1)
        hits = correct.astype(float) @ onehot  # [p, C]
        recalls = hits[:, present] / support[present]
        uars[start:start + chunk] = recalls.mean(axis=1) if present.any() else np.nan
    return correct_counts, uars


def choose_weights(correct_counts: np.ndarray, uars: np.ndarray, grid_counts: np.ndarray) -> int:
    """Index of the best grid point: most correct clips, then highest UAR, then fewest models,
    then the first in grid order."""
    candidates = np.flatnonzero(correct_counts == correct_counts.max())
    candidate_uars = np.nan_to_num(uars[candidates], nan=-1.0)
    candidates = candidates[candidate_uars >= candidate_uars.max() - 1e-12]
    n_models_used = (grid_counts[candidates] > 0).sum(axis=1)
    candidates = candidates[n_models_used == n_models_used.min()]
    return int(candidates[0])


@dataclass
class GridSearchResult:
    models: tuple[str, ...]
    weights: np.ndarray  # [M]
    grid_step: float
    n_grid_points: int
    n_val: int
    val_accuracy: float
    val_uar: float
    equal_val_accuracy: float
    equal_val_uar: float
    selection: str

    def to_json(self) -> dict[str, object]:
        return {
            "models": list(self.models),
            "weights": {m: float(w) for m, w in zip(self.models, self.weights)},
            "grid_step": self.grid_step,
            "n_grid_points": self.n_grid_points,
            "selection": self.selection,
            "n_val": self.n_val,
            "val": {"accuracy": _finite_or_none(self.val_accuracy), "uar": _finite_or_none(self.val_uar)},
            "equal_weights_val": {
                "accuracy": _finite_or_none(self.equal_val_accuracy),
                "uar": _finite_or_none(self.equal_val_uar),
            },
            "gain_over_equal_weights_val": {
                "accuracy": _finite_or_none(self.val_accuracy - self.equal_val_accuracy),
                "uar": _finite_or_none(self.val_uar - self.equal_val_uar),
            },
        }


def grid_search_weights(val: AlignedPredictions, step: float) -> GridSearchResult:
    """Section 3.2: the simplex-grid weights maximising accuracy on the labelled validation clips."""
    labelled = val.labels != ""
    true = label_indices(list(val.labels[labelled]))
    probs, seen = val.probs[:, labelled], val.ok[:, labelled]
    n_models = len(val.models)
    grid_counts = simplex_grid(n_models, step)
    resolution = grid_resolution(step)
    equal = np.full((1, n_models), 1.0 / n_models)
    if len(true) == 0:
        log.warning("no labelled validation clips: the fusion falls back to equal weights")
        return GridSearchResult(val.models, equal[0], step, len(grid_counts), 0, math.nan, math.nan,
                                math.nan, math.nan, "equal weights (no labelled validation clips)")
    correct_counts, uars = evaluate_grid(grid_counts / resolution, probs, seen, true)
    best = choose_weights(correct_counts, uars, grid_counts)
    equal_correct, equal_uar = evaluate_grid(equal, probs, seen, true)
    log.info("grid of %d points over %s on %d val clips: best %s, accuracy %.4f, UAR %.4f",
             len(grid_counts), ", ".join(val.models), len(true), grid_counts[best] / resolution,
             correct_counts[best] / len(true), uars[best])
    return GridSearchResult(
        models=val.models,
        weights=grid_counts[best] / resolution,
        grid_step=step,
        n_grid_points=len(grid_counts),
        n_val=len(true),
        val_accuracy=float(correct_counts[best] / len(true)),
        val_uar=float(uars[best]),
        equal_val_accuracy=float(equal_correct[0] / len(true)),
        equal_val_uar=float(equal_uar[0]),
        selection="grid search on val: accuracy, then UAR, then fewer models "
                  "(each clip fused over the models that saw it; no model: a miss)",
    )


def fusion_note(models: Sequence[str], weights: Sequence[float], seen: Sequence[bool]) -> str:
    """What the fusion of one clip left out, "" when every model saw it (shared by the pipeline's
    fused rows and `avemotion predict`)."""
    available = [m for m, s in zip(models, seen) if s]
    missing = [m for m, s in zip(models, seen) if not s]
    if not available:
        return "no fused model can see this clip"
    notes = []
    if missing:
        lost = sum(float(w) for w, s in zip(weights, seen) if not s)
        notes.append(f"predicted without {', '.join(missing)} (fusion weight {lost:.2f} left out); "
                     f"weights renormalised over {', '.join(available)}")
    if sum(float(w) for w, s in zip(weights, seen) if s) <= 0:
        notes.append(f"the models that see this clip ({', '.join(available)}) all have fusion weight 0: "
                     f"fused with equal weights")
    return "; ".join(notes)


def fuse_available(probs: Mapping[str, np.ndarray | None], weights: Mapping[str, float]
                   ) -> tuple[np.ndarray | None, dict[str, float], str]:
    """One clip through the pipeline's fusion (`fusion.fuse_probabilities`): the weighted sum of the
    available models' probabilities, weights renormalised over them.

    `probs` maps each fused model to its probabilities, or None when it cannot see the clip.
    Returns (fused [7] or None when no model is available, the weight used per model, a note that
    says what was left out, "" when nothing was: `fusion.fusion_note`).
    """
    models = list(weights)
    seen = np.array([[probs.get(m) is not None] for m in models])  # [M, 1]
    stacked = np.stack([np.full(N_CLASSES, np.nan) if probs.get(m) is None else np.asarray(probs[m], dtype=float)
                        for m in models])[:, None, :]
    model_weights = np.array([float(weights[m]) for m in models])
    fused = fuse_probabilities(stacked, seen, model_weights)[0]
    used = {m: float(w) for m, w in zip(models, clip_weights(model_weights, seen)[:, 0])}
    note = fusion_note(models, model_weights, seen[:, 0])
    return (None if not seen.any() else fused), used, note


def fused_rows(predictions: AlignedPredictions, weights: np.ndarray) -> list[dict[str, object]]:
    """Prediction rows of the fused network (`fuse_probabilities`). A clip some models did not see
    is ok, its reason says which and why; a clip no model saw is quarantined, without
    probabilities, with every model's reason."""
    weights = np.asarray(weights, dtype=float)
    fused = fuse_probabilities(predictions.probs, predictions.ok, weights)
    rows = []
    for n, clip_id in enumerate(predictions.clip_ids):
        seen = predictions.ok[:, n]
        note = fusion_note(predictions.models, weights, seen)
        causes = "; ".join(f"{model}: {predictions.reasons[m][n]}"
                           for m, model in enumerate(predictions.models) if not seen[m])
        if seen.any():
            status, probs, reason = STATUS_OK, fused[n], (f"{note} ({causes})" if causes else note)
        else:
            status, probs, reason = STATUS_QUARANTINED, None, f"clip {clip_id}: {note} ({causes})"
        rows.append({
            "clip_id": clip_id,
            "split": predictions.splits[n],
            "label": predictions.labels[n],
            "probs": probs,
            "status": status,
            "reason": reason,
        })
    return rows


def split_metrics(rows: Sequence[Mapping[str, object]], split: str) -> dict[str, object]:
    """`summarize` over the labelled rows of one split (NaN written as null); a row without
    probabilities is a miss."""
    labelled = [row for row in rows if row["split"] == split and row["label"]]
    true = label_indices([str(row["label"]) for row in labelled])
    predicted = predicted_indices([row["probs"] for row in labelled])
    summary = summarize(true, predicted)
    summary["accuracy"] = _finite_or_none(summary["accuracy"])
    summary["uar"] = _finite_or_none(summary["uar"])
    return summary


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def run_fusion(
    prediction_paths: Mapping[str, str | os.PathLike],
    weights_path: str | os.PathLike,
    fused_predictions_path: str | os.PathLike,
    metrics_path: str | os.PathLike,
    grid_step: float,
    refit_prediction_paths: Mapping[str, str | os.PathLike] | None = None,
) -> GridSearchResult:
    """The fusion stage: grid-search weights on val, fuse val and test, write the three artifacts.

    With `refit_prediction_paths` (refit mode, section 3.2), the test rows come from the models
    retrained on train+val, fused with the weights chosen on the original models' val predictions.
    """
    predictions = load_predictions(prediction_paths)
    val = predictions.subset(predictions.splits == "val")
    result = grid_search_weights(val, grid_step)
    if refit_prediction_paths is not None:
        if list(refit_prediction_paths) != list(prediction_paths):
            raise ValueError("refit predictions must list the same models, in the same order")
        refit = load_predictions(refit_prediction_paths)
        test = refit.subset(refit.splits == "test")
    else:
        test = predictions.subset(predictions.splits == "test")
    rows = fused_rows(val, result.weights) + fused_rows(test, result.weights)
    write_predictions(fused_predictions_path, rows)
    metrics = {"val": split_metrics(rows, "val"), "test": split_metrics(rows, "test")}
    weights_json = result.to_json()
    weights_json["refit"] = refit_prediction_paths is not None
    for path, content in ((metrics_path, metrics), (weights_path, weights_json)):
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(content, indent=2) + "\n")
    return result


def fuse_with_chosen_weights(prediction_paths: Mapping[str, str | os.PathLike], weights: str | os.PathLike,
                             fused: str | os.PathLike) -> list[dict]:
    """The fused rows of a dataset the weights were not chosen on (an evaluation dataset, every split):
    its models' predictions (`prediction_paths`, in the fusion's model order) with the weights of
    `weights.json` (`run_fusion`); writes them to `fused`."""
    chosen = read_fusion_weights(weights)
    if list(prediction_paths) != list(chosen["models"]):
        raise ValueError(f"{weights} fuses {chosen['models']}, the predictions given are of {list(prediction_paths)}")
    aligned = load_predictions(prediction_paths)
    rows = fused_rows(aligned, np.array([chosen["weights"][model] for model in aligned.models]))
    write_predictions(fused, rows)
    return rows
