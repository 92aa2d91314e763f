"""The scores: per model and split, accuracy and UAR with bootstrap intervals and the confusion matrix
(7 x 8, the last column the clips without prediction), the paper's values beside them, and the rows of
summary.tsv.

Scores are reported per dataset. The training rows score the whole training manifest (its
datasets' names joined with "+"); with several training datasets each also gets rows of its own
clips. An evaluation dataset (never trained on) is scored over all its labelled clips (split "all"),
beside the drop from the same model's in-corpus val score with an unpaired bootstrap interval. A
dataset's UAR averages the classes it has; the classes it lacks are `absent_classes`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..artifacts import STATUS_OK
from ..constants import (
    BOOTSTRAP_CONFIDENCE,
    CLASSES,
    FUSION,
    PAPER_CONFUSION_PERCENT,
    PAPER_CONFUSION_SPLIT,
    PAPER_TEST_ACCURACY_FUSION,
    PAPER_TEST_UAR_FUSION,
    PAPER_VAL_ACCURACY,
    PAPER_VAL_UAR,
)
from ..metrics import (
    bootstrap_confidence_intervals,
    bootstrap_unpaired_difference_intervals,
    confusion_percent,
    label_indices,
    predicted_indices,
    summarize,
)
from .table import (
    EVALUATION_SPLIT,
    REPORT_SPLITS,
    ROLE_EVALUATE,
    ROLE_TRAIN,
    EvaluationTable,
    Prediction,
    ReportTable,
)

ABSENT = "absent"  # a confusion row of a class without true clips in the scored set
SCORE_COLUMNS: tuple[str, ...] = (
    "model", "split", "n", "n_quarantined", "n_no_prediction", "accuracy", "accuracy_low", "accuracy_high",
    "uar", "uar_low", "uar_high", "paper_accuracy", "paper_uar",
)
DROP_COLUMNS: tuple[str, ...] = (
    "drop_accuracy", "drop_accuracy_low", "drop_accuracy_high", "drop_uar", "drop_uar_low", "drop_uar_high",
)
SUMMARY_COLUMNS: tuple[str, ...] = ("dataset", "role", *SCORE_COLUMNS, *DROP_COLUMNS)


@dataclass
class SplitScores:
    """One model on one split: metrics over the labelled clips, with bootstrap intervals."""

    model: str
    split: str
    n: int
    n_quarantined: int
    n_no_prediction: int  # scored as wrong: the last confusion column
    accuracy: float
    uar: float
    accuracy_interval: tuple[float, float]
    uar_interval: tuple[float, float]
    confusion: np.ndarray  # counts [7, 8]: rows = true class, columns = predicted class, then no prediction
    # the scored clips' class indices (predicted: NO_PREDICTION without one), for differences between clip sets
    true: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int), repr=False)
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int), repr=False)

    @property
    def confusion_percent(self) -> np.ndarray:
        return confusion_percent(self.confusion)

    @property
    def absent_classes(self) -> tuple[str, ...]:
        """The classes without a true clip among the scored ones: the UAR leaves them out."""
        return tuple(c for c, support in zip(CLASSES, self.confusion.sum(axis=1)) if support == 0)


@dataclass(frozen=True)
class CrossCorpusDrop:
    """A model's in-corpus val score minus its score on an evaluation dataset (fractions), with
    percentile bootstrap intervals that resample the two clip sets independently."""

    accuracy: float
    accuracy_interval: tuple[float, float]
    uar: float
    uar_interval: tuple[float, float]


@dataclass
class DatasetScores:
    """The scores of one group of rows of summary.tsv: the whole training manifest, one training
    dataset's clips, or an evaluation dataset (split "all", with the drop from in-corpus val)."""

    dataset: str
    role: str
    scores: dict[str, dict[str, SplitScores]]  # model -> split -> scores, in table order
    drops: dict[str, CrossCorpusDrop] = field(default_factory=dict)  # model -> drop (evaluation datasets)


def paper_scores(model: str, split: str) -> tuple[float | None, float | None]:
    """The paper's accuracy and UAR in percent for a model and split (None where it reports none)."""
    if split == "val":
        return PAPER_VAL_ACCURACY.get(model), PAPER_VAL_UAR.get(model)
    if split == "test" and model == FUSION:
        return PAPER_TEST_ACCURACY_FUSION, PAPER_TEST_UAR_FUSION
    return None, None


def paper_confusion(model: str, split: str) -> np.ndarray | None:
    """The paper's confusion table (percent) for this model and split, if it printed one."""
    if PAPER_CONFUSION_SPLIT.get(model) != split:
        return None
    return np.array(PAPER_CONFUSION_PERCENT[model], dtype=float)


def score_split(predictions: Sequence[Prediction], *, model: str, split: str, n_resamples: int,
                seed: int) -> SplitScores | None:
    """Scores of the labelled predictions of one split; None when the split has no labelled clip."""
    labelled = [p for p in predictions if p.split == split and p.label]
    return score_labelled(labelled, model=model, split=split, n_resamples=n_resamples, seed=seed)


def score_labelled(labelled: Sequence[Prediction], *, model: str, split: str, n_resamples: int,
                   seed: int) -> SplitScores | None:
    """Scores of labelled predictions, reported under `split`; None when there are none."""
    if not labelled:
        return None
    true = label_indices([p.label for p in labelled])
    predicted = predicted_indices([p.probs for p in labelled])
    summary = summarize(true, predicted)
    intervals = bootstrap_confidence_intervals(true, predicted, n_resamples=n_resamples, seed=seed,
                                               confidence=BOOTSTRAP_CONFIDENCE)
    return SplitScores(
        model=model,
        split=split,
        n=len(labelled),
        n_quarantined=sum(1 for p in labelled if p.status != STATUS_OK),
        n_no_prediction=int(summary["n_no_prediction"]),
        accuracy=float(summary["accuracy"]),
        uar=float(summary["uar"]),
        accuracy_interval=intervals["accuracy"],
        uar_interval=intervals["uar"],
        confusion=np.array(summary["confusion"]),
        true=true,
        predicted=predicted,
    )


def score_report_splits(predictions: Sequence[Prediction], *, model: str, n_resamples: int,
                        seed: int) -> dict[str, SplitScores]:
    """A model's scores on each report split that has labelled clips among `predictions`."""
    by_split = {split: score_split(predictions, model=model, split=split, n_resamples=n_resamples, seed=seed)
                for split in REPORT_SPLITS}
    return {split: s for split, s in by_split.items() if s is not None}


def score_models(table: ReportTable, *, n_resamples: int, seed: int) -> dict[str, dict[str, SplitScores]]:
    """Every model's scores on each split that has labelled clips, in table order."""
    return {model: score_report_splits(table.predictions[model], model=model, n_resamples=n_resamples, seed=seed)
            for model in table.models}


def score_training_dataset(table: ReportTable, dataset: str, *, n_resamples: int, seed: int) -> DatasetScores:
    """Every model on one training dataset's own val and test clips."""
    clip_ids = {clip.clip_id for clip in table.clips if clip.dataset == dataset}
    scores = {model: score_report_splits([p for p in table.predictions[model] if p.clip_id in clip_ids], model=model,
                                         n_resamples=n_resamples, seed=seed)
              for model in table.models}
    return DatasetScores(dataset=dataset, role=ROLE_TRAIN, scores=scores)


def score_evaluation(evaluation: EvaluationTable, in_corpus: Mapping[str, Mapping[str, SplitScores]], *,
                     n_resamples: int, seed: int) -> DatasetScores:
    """Every model on all labelled clips of an evaluation dataset, and its drop from the same model's
    in-corpus val score."""
    scores: dict[str, dict[str, SplitScores]] = {}
    drops: dict[str, CrossCorpusDrop] = {}
    for model in evaluation.models:
        labelled = [p for p in evaluation.predictions[model] if p.label]
        cross = score_labelled(labelled, model=model, split=EVALUATION_SPLIT, n_resamples=n_resamples, seed=seed)
        scores[model] = {} if cross is None else {EVALUATION_SPLIT: cross}
        val = in_corpus.get(model, {}).get("val")
        if cross is not None and val is not None:
            drops[model] = cross_corpus_drop(val, cross, n_resamples=n_resamples, seed=seed)
    return DatasetScores(dataset=evaluation.name, role=ROLE_EVALUATE, scores=scores, drops=drops)


def cross_corpus_drop(in_corpus: SplitScores, cross: SplitScores, *, n_resamples: int, seed: int) -> CrossCorpusDrop:
    """In-corpus minus cross-corpus accuracy and UAR, with an unpaired bootstrap interval."""
    intervals = bootstrap_unpaired_difference_intervals(in_corpus.true, in_corpus.predicted, cross.true,
                                                        cross.predicted, n_resamples=n_resamples, seed=seed,
                                                        confidence=BOOTSTRAP_CONFIDENCE)
    return CrossCorpusDrop(accuracy=in_corpus.accuracy - cross.accuracy, accuracy_interval=intervals["accuracy"],
                           uar=in_corpus.uar - cross.uar, uar_interval=intervals["uar"])


def score_datasets(table: ReportTable, scores: Mapping[str, Mapping[str, SplitScores]], *, n_resamples: int,
                   seed: int) -> list[DatasetScores]:
    """The row groups of summary.tsv: the training manifest (`scores`), each training dataset when
    there are several, then each evaluation dataset."""
    groups = [DatasetScores(dataset=table.training_label, role=ROLE_TRAIN,
                            scores={model: dict(by_split) for model, by_split in scores.items()})]
    if len(table.training_datasets) > 1:
        groups += [score_training_dataset(table, dataset, n_resamples=n_resamples, seed=seed)
                   for dataset in table.training_datasets]
    groups += [score_evaluation(evaluation, scores, n_resamples=n_resamples, seed=seed)
               for evaluation in table.evaluations.values()]
    return groups


def summary_tsv_rows(groups: Sequence[DatasetScores]) -> list[dict[str, object]]:
    rows = []
    for group in groups:
        for model, by_split in group.scores.items():
            for split, s in by_split.items():
                paper_accuracy, paper_uar = paper_scores(model, split)
                rows.append({
                    "dataset": group.dataset, "role": group.role,
                    "model": model, "split": split, "n": s.n, "n_quarantined": s.n_quarantined,
                    "n_no_prediction": s.n_no_prediction,
                    "accuracy": s.accuracy, "accuracy_low": s.accuracy_interval[0],
                    "accuracy_high": s.accuracy_interval[1], "uar": s.uar, "uar_low": s.uar_interval[0],
                    "uar_high": s.uar_interval[1],
                    "paper_accuracy": "" if paper_accuracy is None else paper_accuracy / 100,
                    "paper_uar": "" if paper_uar is None else paper_uar / 100,
                    **_drop_cells(group.drops.get(model)),
                })
    return rows


def _drop_cells(drop: CrossCorpusDrop | None) -> dict[str, object]:
    if drop is None:
        return {column: "" for column in DROP_COLUMNS}
    return {"drop_accuracy": drop.accuracy, "drop_accuracy_low": drop.accuracy_interval[0],
            "drop_accuracy_high": drop.accuracy_interval[1], "drop_uar": drop.uar,
            "drop_uar_low": drop.uar_interval[0], "drop_uar_high": drop.uar_interval[1]}
