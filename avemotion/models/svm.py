"""Paper 2.2: an SVM on the 1582 standardised openSMILE IS10 functionals, C and the kernel chosen by
cross-validation on the training clips; its class probabilities are the softmax of its one-vs-rest
decision values (`class_probabilities`)."""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..constants import N_CLASSES

log = logging.getLogger(__name__)


def cv_folds(targets: np.ndarray, requested: int) -> int:
    """Folds for the grid search: as requested, but no more than the smallest class has clips
    (StratifiedKFold needs one clip per class per fold); 0 = too few clips to cross-validate."""
    counts = np.bincount(targets, minlength=N_CLASSES)
    smallest = counts[counts > 0].min() if counts.any() else 0
    folds = min(requested, int(smallest))
    return folds if folds >= 2 else 0


def svm_pipeline(seed: int) -> Pipeline:
    # No Platt scaling (probability=True): its internal 5-fold fit collapses to uniform
    # probabilities on a few clips per class (seen on the tiny demo: every clip 1/7, argmax
    # arbitrary), and scikit-learn 1.9 deprecates it. Probabilities are the softmax of the
    # one-vs-rest decision values instead, whose argmax is the SVM's own prediction.
    return Pipeline([("scale", StandardScaler()),
                     ("svm", SVC(decision_function_shape="ovr", random_state=seed, class_weight=None))])


def fit_svm(features: np.ndarray, targets: np.ndarray, model_config: Mapping, seed: int):
    """GridSearchCV over `C` and `kernel` (accuracy); returns (fitted pipeline, cv_results rows)."""
    grid = {"svm__C": [float(c) for c in model_config["C"]], "svm__kernel": list(model_config["kernel"])}
    folds = cv_folds(targets, int(model_config["cv_folds"]))
    if folds == 0:
        log.warning("too few training clips per class to cross-validate; using C=%s kernel=%s",
                    grid["svm__C"][0], grid["svm__kernel"][0])
        pipeline = svm_pipeline(seed).set_params(svm__C=grid["svm__C"][0], svm__kernel=grid["svm__kernel"][0])
        return pipeline.fit(features, targets), []
    search = GridSearchCV(svm_pipeline(seed), grid, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                          scoring="accuracy", n_jobs=1, refit=True)
    search.fit(features, targets)
    log.info("SVM grid search (%d folds): best %s, cv accuracy %.3f", folds, search.best_params_, search.best_score_)
    results = [{"stage": "grid", "step": i, "lr": params["svm__C"], "loss": 1.0 - score, "accuracy": score}
               for i, (params, score) in enumerate(zip(search.cv_results_["params"],
                                                        search.cv_results_["mean_test_score"]))]
    return search.best_estimator_, results


def class_probabilities(pipeline: Pipeline, features: np.ndarray) -> np.ndarray:
    """Softmax of the one-vs-rest decision values, spread onto all 7 classes (a class absent from
    training gets 0)."""
    scores = np.asarray(pipeline.decision_function(features), dtype=float)
    if scores.ndim == 1:  # two classes: one signed score for the second class
        scores = np.stack([-scores, scores], axis=1) / 2
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = np.zeros((len(features), N_CLASSES))
    probs[:, pipeline.classes_] = scores / scores.sum(axis=1, keepdims=True)
    return probs


# The fitted pipeline as tensors and plain values (no pickle: the checkpoint loads with
# torch.load(weights_only=True), a bundle holds it as .npy and JSON), and back. Only these steps and
# classes are rebuilt; their fitted state is set as scikit-learn's own fit left it, so the restored
# SVM calls libsvm with the very arrays it was fitted with.
SVM_STEPS: dict[str, type] = {"scale": StandardScaler, "svm": SVC}


def svm_state(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    """{step: {"arrays": {attribute: tensor}, "values": {attribute: plain value}}} of the fitted pipeline."""
    names = [name for name, _ in pipeline.steps]
    if names != list(SVM_STEPS):
        raise ValueError(f"an SVM pipeline has the steps {list(SVM_STEPS)}, not {names}")
    state: dict[str, dict[str, Any]] = {}
    for name, step in pipeline.steps:
        arrays, values = {}, {}
        for attribute, value in vars(step).items():
            if isinstance(value, (np.ndarray, np.generic)):
                arrays[attribute] = torch.from_numpy(np.array(value))
            elif value is None or isinstance(value, (bool, int, float, str, tuple)):
                values[attribute] = value
            else:
                raise TypeError(f"SVM step {name}: cannot store {attribute} of type {type(value).__name__}")
        state[name] = {"arrays": arrays, "values": values}
    return state


def svm_from_state(state: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Pipeline:
    """The fitted pipeline `svm_state` stored (0-d arrays come back as numpy scalars, tuples as tuples)."""
    if set(state) != set(SVM_STEPS):
        raise ValueError(f"an SVM state has the steps {list(SVM_STEPS)}, not {list(state)}")
    steps = []
    for name, kind in SVM_STEPS.items():
        step = kind.__new__(kind)
        fitted = {attribute: _restored_array(value) for attribute, value in state[name]["arrays"].items()}
        step.__dict__.update({**state[name]["values"], **fitted})
        if isinstance(step.__dict__.get("shape_fit_"), list):
            step.shape_fit_ = tuple(step.shape_fit_)
        steps.append((name, step))
    return Pipeline(steps)


def _restored_array(value: Any) -> Any:
    array = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    return array[()] if array.ndim == 0 else array
