"""The results report (paper section 3.2, Tables 1-6): per model and fused, accuracy and UAR with
bootstrap 95 % intervals, confusion matrices in percent beside the paper's, the fusion weights and
their gain over equal weights, and every input clip's status per stage.

A clip a model could not see has no prediction (`avemotion.metrics`): it is scored as wrong, and our
confusion matrices are 7 x 8, the last column counting those clips; the paper's tables are 7 x 7.
When the VGG-LSTMs were not initialised as in the paper (no VGG-Face weights, no FER-2013 step (a)),
summary.md says so first.

Unlabelled clips (AFEW's Test_AFEW/) are predicted but never scored: summary.md counts, per split,
the clips, the labelled (scored) ones and the unlabelled (predicted only) ones, and lists the EmotiW
submission (`avemotion.submission`: the fused test predictions, class counts, clips without one).

Scores are reported per dataset. The training rows score the whole training manifest (its
datasets' names joined with "+"); with several training datasets each also gets rows of its own
clips. An evaluation dataset (never trained on) is predicted on every clip of every split and scored
over all its labelled clips (split "all"), beside the drop from the same model's in-corpus val score
with an unpaired bootstrap interval. A dataset's UAR averages the classes it has; the confusion
matrices mark the rows of the classes it lacks "absent".

`build_report` reads the run's files once into a `ReportTable` (every input clip with its row in
each stage index and each model's prediction, for the training data and each evaluation dataset)
and derives every file from it: `summary.md`, `summary.tsv` (the side-by-side table), `clips.tsv`,
`confusion_{model}.png`.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .artifacts import STATUS_OK, STATUS_QUARANTINED, atomic_output, read_predictions, read_tsv, write_tsv
from .constants import (
    BOOTSTRAP_CONFIDENCE,
    CHALLENGE_BASELINE_VAL_ACCURACY,
    CLASSES,
    FUSION,
    PAPER_CONFUSION_PERCENT,
    PAPER_CONFUSION_SPLIT,
    PAPER_CONFUSION_TABLE,
    PAPER_TEST_ACCURACY_FUSION,
    PAPER_TEST_UAR_FUSION,
    PAPER_VAL_ACCURACY,
    PAPER_VAL_UAR,
)
from .fusion import align_predictions, fuse_probabilities, fused_classes
from .metrics import (
    CONFUSION_COLUMNS,
    NO_PREDICTION_LABEL,
    bootstrap_confidence_intervals,
    bootstrap_difference_intervals,
    bootstrap_unpaired_difference_intervals,
    confusion_percent,
    label_indices,
    predicted_index,
    predicted_indices,
    summarize,
)
from .submission import SUBMISSION_SPLIT, SubmissionEntry, class_counts

StrPath = str | os.PathLike

REPORT_SPLITS: tuple[str, ...] = ("val", "test")
EVALUATION_SPLIT = "all"  # an evaluation dataset is scored over its labelled clips of every split
ROLE_TRAIN = "train"
ROLE_EVALUATE = "evaluate"
ABSENT = "absent"  # a confusion row of a class without true clips in the scored set
PROBE_STAGE = "probe"
CLIP_STATUS_DONE = "done"
CLIP_STATUS_SKIPPED = "skipped"
CLIP_STATUS_MISSING = "missing"
CLIP_STATUS_NOT_APPLICABLE = "n/a"
CLIP_STATUSES: tuple[str, ...] = (
    CLIP_STATUS_DONE, STATUS_QUARANTINED, CLIP_STATUS_SKIPPED, CLIP_STATUS_MISSING, CLIP_STATUS_NOT_APPLICABLE,
)
MAX_LISTED_QUARANTINED = 50
SCORE_COLUMNS: tuple[str, ...] = (
    "model", "split", "n", "n_quarantined", "n_no_prediction", "accuracy", "accuracy_low", "accuracy_high",
    "uar", "uar_low", "uar_high", "paper_accuracy", "paper_uar",
)
DROP_COLUMNS: tuple[str, ...] = (
    "drop_accuracy", "drop_accuracy_low", "drop_accuracy_high", "drop_uar", "drop_uar_low", "drop_uar_high",
)
SUMMARY_COLUMNS: tuple[str, ...] = ("dataset", "role", *SCORE_COLUMNS, *DROP_COLUMNS)


@dataclass(frozen=True)
class EvaluationInputs:
    """The files of one evaluation dataset (`results/evaluate/<name>/`). It was never trained on, so
    its prediction tables cover every clip of every split."""

    manifest: StrPath
    quarantine: StrPath
    predictions: Mapping[str, StrPath]  # model -> predictions/{model}.tsv, in ReportInputs' order, fusion last
    stage_indices: Mapping[str, StrPath] = field(default_factory=dict)  # the training stage names

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EvaluationInputs:
        """From one value of rule `report`'s params `evaluations`."""
        return cls(manifest=params["manifest"], quarantine=params["quarantine"],
                   predictions=dict(params["predictions"]), stage_indices=dict(params.get("stage_indices") or {}))


@dataclass(frozen=True)
class ReportInputs:
    """The files the report reads and the settings it scores with."""

    predictions: Mapping[str, StrPath]  # model -> results/predictions/{model}.tsv, in table order, fusion last
    weights: StrPath  # results/fusion/weights.json
    manifest: StrPath
    quarantine: StrPath  # the files quarantined before the models (probe, dataset)
    stage_indices: Mapping[str, StrPath] = field(default_factory=dict)  # only the stages this run has
    submission_table: StrPath | None = None  # the EmotiW submission's predictions.tsv, listed when given
    bootstrap_samples: int = 1000
    seed: int = 0
    # config["models"]["vgg_lstm"]'s vgg_face_weights, fer2013_csv, fer_iterations (`vgg_lstm_deviation`)
    vgg_lstm_init: Mapping[str, Any] | None = None
    paper_deviations: Sequence[str] = ()  # the run's settings that differ from the paper's
    # one mapping per dataset of the run, training ones first: name, kind, role, path, label_mapping
    datasets: Sequence[Mapping[str, str]] = ()
    evaluations: Mapping[str, EvaluationInputs] = field(default_factory=dict)  # name -> its files

    @classmethod
    def from_snakemake(cls, snakemake: Any) -> ReportInputs:
        """The inputs of rule `report`: `predictions` in the order of params `models`, optional
        `index_<stage>` and `submission` inputs, params `report` (bootstrap_samples, seed), optional
        params `datasets` and `evaluations` (name -> manifest, quarantine, predictions, stage_indices)."""
        prefix = "index_"
        evaluations = getattr(snakemake.params, "evaluations", None) or {}
        return cls(
            predictions=dict(zip(snakemake.params.models, snakemake.input.predictions)),
            weights=snakemake.input.weights,
            manifest=snakemake.input.manifest,
            quarantine=snakemake.input.quarantine,
            stage_indices={name[len(prefix):]: path for name, path in snakemake.input.items()
                           if name.startswith(prefix)},
            submission_table=snakemake.input.get("submission"),
            bootstrap_samples=snakemake.params.report["bootstrap_samples"],
            seed=snakemake.params.report["seed"],
            vgg_lstm_init=snakemake.params.vgg_lstm_init,
            paper_deviations=tuple(snakemake.params.paper_deviations),
            datasets=tuple(dict(dataset) for dataset in getattr(snakemake.params, "datasets", None) or ()),
            evaluations={name: EvaluationInputs.from_params(files) for name, files in evaluations.items()},
        )


@dataclass(frozen=True)
class ReportOutputs:
    """The files the report writes."""

    summary_md: StrPath
    summary_tsv: StrPath
    clips_tsv: StrPath
    confusion_pngs: Mapping[str, StrPath] = field(default_factory=dict)  # model -> PNG; others get none

    @classmethod
    def from_snakemake(cls, snakemake: Any) -> ReportOutputs:
        return cls(
            summary_md=snakemake.output.summary,
            summary_tsv=snakemake.output.table,
            clips_tsv=snakemake.output.clips,
            confusion_pngs=dict(zip(snakemake.params.models, snakemake.output.confusions)),
        )


@dataclass(frozen=True)
class Prediction:
    """One model's row for one clip (`results/predictions/{model}.tsv`)."""

    clip_id: str
    split: str
    label: str  # "" for an unlabelled clip
    probs: np.ndarray | None  # 7 probabilities in CLASSES order; None where the model could not see the clip
    status: str
    reason: str

    @property
    def quarantined(self) -> bool:
        return self.status == STATUS_QUARANTINED

    @property
    def seen(self) -> bool:
        return self.status == STATUS_OK and self.probs is not None

    @property
    def predicted_class(self) -> str:
        return NO_PREDICTION_LABEL if self.probs is None else CLASSES[predicted_index(self.probs)]

    def as_row(self) -> dict[str, object]:
        """The row as `read_predictions` gives it (what `fusion.align_predictions` takes)."""
        return {"clip_id": self.clip_id, "split": self.split, "label": self.label, "probs": self.probs,
                "status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class StageRow:
    """A clip's row in a stage index; an index without a status column marks every clip it lists done."""

    quarantined: bool
    reason: str


@dataclass(frozen=True)
class ReportClip:
    """One input clip: a manifest row, or a file quarantined before the models (quarantine.tsv), which
    reaches no stage index and no model."""

    clip_id: str
    split: str
    label: str
    path: str
    stage_rows: Mapping[str, StageRow]  # stage -> its index row; stages that do not list the clip are absent
    predictions: Mapping[str, Prediction]  # model -> its row; models whose table lacks the clip are absent
    quarantined_at: str = ""  # the quarantine.tsv stage (probe, dataset) that kept the clip out
    quarantine_reason: str = ""
    dataset: str = ""  # "" when neither its table nor the run names it
    role: str = ROLE_TRAIN  # or ROLE_EVALUATE: a clip of an evaluation dataset

    @property
    def predicted_by_models(self) -> bool:
        """Whether the models predict the clip: the training data's val and test clips, every clip of
        an evaluation dataset."""
        return self.role == ROLE_EVALUATE or self.split in REPORT_SPLITS


@dataclass(frozen=True)
class SubmissionTable:
    """The EmotiW submission's predictions.tsv (`avemotion.submission`) and the folder it lies in."""

    folder_name: str
    entries: tuple[SubmissionEntry, ...]


@dataclass(frozen=True)
class EvaluationTable:
    """One evaluation dataset's results, read once: its clips x its stages and models."""

    name: str
    stages: tuple[str, ...]
    models: tuple[str, ...]
    clips: tuple[ReportClip, ...]  # manifest order, then quarantine.tsv order
    predictions: Mapping[str, tuple[Prediction, ...]]

    @property
    def stage_names(self) -> tuple[str, ...]:
        return (PROBE_STAGE, *self.stages, *self.models)


@dataclass(frozen=True)
class ReportTable:
    """The run's results, read once: every input clip of the training data x every stage and model,
    and each model's predictions in its table's row order (the order the bootstrap resamples, so the
    intervals do not depend on how the clips are joined); each evaluation dataset's likewise."""

    stages: tuple[str, ...]  # the stage indices read, in the order given
    models: tuple[str, ...]  # in table order, fusion last
    clips: tuple[ReportClip, ...]  # manifest order, then quarantine.tsv order
    predictions: Mapping[str, tuple[Prediction, ...]]
    weights: Mapping[str, Any]  # results/fusion/weights.json
    submission: SubmissionTable | None
    datasets: tuple[Mapping[str, str], ...] = ()  # ReportInputs.datasets
    evaluations: Mapping[str, EvaluationTable] = field(default_factory=dict)

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The training data's stages: the probe, the stage indices, the models."""
        return (PROBE_STAGE, *self.stages, *self.models)

    @property
    def all_stage_names(self) -> tuple[str, ...]:
        """The stages of clips.tsv: the training data's, then any only an evaluation dataset has."""
        names = dict.fromkeys(self.stage_names)
        for evaluation in self.evaluations.values():
            names.update(dict.fromkeys(evaluation.stage_names))
        return tuple(names)

    @property
    def training_datasets(self) -> tuple[str, ...]:
        """The training datasets' names: as the run names them, else those of the training clips."""
        named = tuple(dataset["name"] for dataset in self.datasets if dataset.get("role", ROLE_TRAIN) == ROLE_TRAIN)
        return named or tuple(dict.fromkeys(clip.dataset for clip in self.clips if clip.dataset))

    @property
    def training_label(self) -> str:
        """The training rows' dataset in summary.tsv: the training datasets' names joined with "+"."""
        return "+".join(self.training_datasets)


def read_report_table(inputs: ReportInputs) -> ReportTable:
    """Read every file the report shows, each once."""
    training_names = [dataset["name"] for dataset in inputs.datasets
                      if dataset.get("role", ROLE_TRAIN) == ROLE_TRAIN]
    clips, predictions = _read_clip_set(
        manifest=inputs.manifest, quarantine=inputs.quarantine, stage_indices=inputs.stage_indices,
        prediction_tables=inputs.predictions, role=ROLE_TRAIN,
        default_dataset=training_names[0] if len(training_names) == 1 else "")
    evaluations = {}
    for name, files in inputs.evaluations.items():
        evaluation_clips, evaluation_predictions = _read_clip_set(
            manifest=files.manifest, quarantine=files.quarantine, stage_indices=files.stage_indices,
            prediction_tables=files.predictions, role=ROLE_EVALUATE, default_dataset=name)
        evaluations[name] = EvaluationTable(name=name, stages=tuple(files.stage_indices), models=tuple(files.predictions),
                                            clips=evaluation_clips, predictions=evaluation_predictions)
    submission = None if inputs.submission_table is None else _read_submission(inputs.submission_table)
    return ReportTable(
        stages=tuple(inputs.stage_indices), models=tuple(inputs.predictions), clips=clips,
        predictions=predictions, weights=json.loads(Path(inputs.weights).read_text()), submission=submission,
        datasets=tuple(inputs.datasets), evaluations=evaluations,
    )


def _read_clip_set(*, manifest: StrPath, quarantine: StrPath, stage_indices: Mapping[str, StrPath],
                   prediction_tables: Mapping[str, StrPath], role: str,
                   default_dataset: str) -> tuple[tuple[ReportClip, ...], dict[str, tuple[Prediction, ...]]]:
    """The clips of one manifest and quarantine.tsv with their stage rows and predictions, and each
    model's predictions in table order. A clip whose `dataset` cell is empty gets `default_dataset`."""
    predictions = {model: tuple(_prediction(row) for row in read_predictions(path))
                   for model, path in prediction_tables.items()}
    predictions_by_clip = {model: {p.clip_id: p for p in rows} for model, rows in predictions.items()}
    stage_rows = {stage: {row["clip_id"]: _stage_row(row) for row in read_tsv(path)}
                  for stage, path in stage_indices.items()}
    clips = [_manifest_clip(row, stage_rows=stage_rows, predictions_by_clip=predictions_by_clip, role=role,
                            default_dataset=default_dataset) for row in read_tsv(manifest)]
    clips += [_quarantined_clip(row, role=role, default_dataset=default_dataset) for row in read_tsv(quarantine)]
    return tuple(clips), predictions


def _manifest_clip(row: Mapping[str, str], *, stage_rows: Mapping[str, Mapping[str, StageRow]],
                   predictions_by_clip: Mapping[str, Mapping[str, Prediction]], role: str = ROLE_TRAIN,
                   default_dataset: str = "") -> ReportClip:
    clip_id = row["clip_id"]
    return ReportClip(
        clip_id=clip_id, split=row.get("split", ""), label=row.get("label", ""), path=row.get("path", ""),
        stage_rows={stage: rows[clip_id] for stage, rows in stage_rows.items() if clip_id in rows},
        predictions={model: rows[clip_id] for model, rows in predictions_by_clip.items() if clip_id in rows},
        dataset=row.get("dataset") or default_dataset, role=role,
    )


def _quarantined_clip(row: Mapping[str, str], *, role: str = ROLE_TRAIN, default_dataset: str = "") -> ReportClip:
    return ReportClip(
        clip_id=row["clip_id"], split=row.get("split", ""), label=row.get("label", ""), path=row.get("path", ""),
        stage_rows={}, predictions={}, quarantined_at=row.get("stage", PROBE_STAGE) or PROBE_STAGE,
        quarantine_reason=row.get("reason", ""), dataset=row.get("dataset") or default_dataset, role=role,
    )


def _read_submission(path: StrPath) -> SubmissionTable:
    entries = tuple(SubmissionEntry(row["clip_id"], row["class"], row.get("label", ""), row.get("reason", ""),
                                    row.get("quarantined_at", "")) for row in read_tsv(path))
    return SubmissionTable(folder_name=Path(path).parent.name, entries=entries)


def _prediction(row: Mapping[str, Any]) -> Prediction:
    return Prediction(clip_id=str(row["clip_id"]), split=row["split"], label=row["label"], probs=row["probs"],
                      status=row["status"], reason=str(row["reason"] or ""))


def _stage_row(row: Mapping[str, str]) -> StageRow:
    status = row.get("status", STATUS_OK) or STATUS_OK
    return StageRow(quarantined=status == STATUS_QUARANTINED, reason=row.get("reason", "") or "")


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


def score_models(table: ReportTable, *, n_resamples: int, seed: int) -> dict[str, dict[str, SplitScores]]:
    """Every model's scores on each split that has labelled clips, in table order."""
    scores: dict[str, dict[str, SplitScores]] = {}
    for model in table.models:
        by_split = {split: score_split(table.predictions[model], model=model, split=split,
                                       n_resamples=n_resamples, seed=seed) for split in REPORT_SPLITS}
        scores[model] = {split: s for split, s in by_split.items() if s is not None}
    return scores


def score_training_dataset(table: ReportTable, dataset: str, *, n_resamples: int, seed: int) -> DatasetScores:
    """Every model on one training dataset's own val and test clips."""
    clip_ids = {clip.clip_id for clip in table.clips if clip.dataset == dataset}
    scores: dict[str, dict[str, SplitScores]] = {}
    for model in table.models:
        own = [p for p in table.predictions[model] if p.clip_id in clip_ids]
        by_split = {split: score_split(own, model=model, split=split, n_resamples=n_resamples, seed=seed)
                    for split in REPORT_SPLITS}
        scores[model] = {split: s for split, s in by_split.items() if s is not None}
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


def _percent(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.{digits}f}"


def _with_interval(value: float, interval: tuple[float, float]) -> str:
    return f"{_percent(value)} [{_percent(interval[0], 1)}, {_percent(interval[1], 1)}]"


def _paper_cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def confusion_markdown(ours: np.ndarray, paper: np.ndarray | None, absent: Sequence[str] = ()) -> str:
    """Rows = true class AN..SU, columns = predicted AN..SU then "no prediction" (ours is 7 x 8, the
    paper's 7 x 7: its cells go beside ours in the first seven columns); each cell 'ours (paper)' in
    percent. Our cells of a class in `absent` (no true clip scored) read "absent"."""
    rows = []
    for i, true_class in enumerate(CLASSES):
        cells = []
        for j in range(len(CONFUSION_COLUMNS)):
            cell = ABSENT if true_class in absent else f"{ours[i, j]:.2f}"
            if paper is not None and j < paper.shape[1]:
                cell += f" ({paper[i, j]:.2f})"
            cells.append(cell)
        rows.append([f"**{true_class}**"] + cells)
    return markdown_table(["true \\ predicted"] + list(CONFUSION_COLUMNS), rows)


@dataclass(frozen=True)
class ConfusionPanel:
    """One heatmap of a confusion PNG: its title, the matrix in percent, the rows of absent classes."""

    title: str
    matrix: np.ndarray
    absent_rows: tuple[int, ...] = ()


def confusion_panels(model: str, scores: Sequence[SplitScores],
                     cross_corpus: Sequence[tuple[str, SplitScores]] = ()) -> list[ConfusionPanel]:
    """Ours per scored split, the paper's table for this model (if any), then one panel per
    evaluation dataset (name, scores over all its splits)."""
    panels = [_scores_panel(f"ours, {s.split}", s) for s in scores]
    if model in PAPER_CONFUSION_PERCENT:
        split = PAPER_CONFUSION_SPLIT[model]
        accuracy, uar = paper_scores(model, split)
        panels.append(ConfusionPanel(f"paper Table {PAPER_CONFUSION_TABLE[model]}, {split}\n"
                                     f"acc {accuracy:.1f} %, UAR {uar:.1f} %",
                                     np.array(PAPER_CONFUSION_PERCENT[model])))
    panels += [_scores_panel(f"{name} (cross-corpus), all splits", s) for name, s in cross_corpus]
    return panels


def _scores_panel(name: str, s: SplitScores) -> ConfusionPanel:
    return ConfusionPanel(f"{name} (n={s.n}, {s.n_no_prediction} without prediction)\n"
                          f"acc {_percent(s.accuracy, 1)} %, UAR {_percent(s.uar, 1)} %",
                          s.confusion_percent, tuple(CLASSES.index(c) for c in s.absent_classes))


def plot_confusions(path: StrPath, *, model: str, scores: Sequence[SplitScores],
                    cross_corpus: Sequence[tuple[str, SplitScores]] = ()) -> None:
    """PNG heatmaps: ours per scored split (7 x 8, the last column "no prediction"), the paper's
    table for this model (7 x 7), if any, then each evaluation dataset's; the rows of classes without
    a true clip are greyed, hatched and marked "absent"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    panels = confusion_panels(model, scores, cross_corpus)
    if not panels:
        panels.append(ConfusionPanel("no labelled clips", np.zeros((len(CLASSES), len(CONFUSION_COLUMNS)))))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.6), squeeze=False)
    for axis, panel in zip(axes[0], panels):
        title, matrix = panel.title, panel.matrix
        axis.imshow(matrix, cmap="Blues", vmin=0, vmax=100)
        for i, j in np.ndindex(*matrix.shape):
            if i not in panel.absent_rows:
                axis.text(j, i, f"{matrix[i, j]:.0f}", ha="center", va="center", fontsize=8,
                          color="white" if matrix[i, j] > 55 else "black")
        for i in panel.absent_rows:
            axis.add_patch(Rectangle((-0.5, i - 0.5), matrix.shape[1], 1, facecolor="lightgrey", edgecolor="grey",
                                     hatch="//", linewidth=0.5))
            axis.text((matrix.shape[1] - 1) / 2, i, ABSENT, ha="center", va="center", fontsize=8,
                      bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        has_no_prediction_column = matrix.shape[1] > len(CLASSES)
        if has_no_prediction_column:
            axis.axvline(len(CLASSES) - 0.5, color="grey", linewidth=1)
        column_names = list(CLASSES) + (["none"] if has_no_prediction_column else [])
        axis.set_xticks(range(len(column_names)), column_names)
        axis.set_yticks(range(len(CLASSES)), CLASSES)
        axis.set_xlabel("predicted" + (" (none: no prediction)" if has_no_prediction_column else ""))
        axis.set_ylabel("true")
        axis.set_title(title, fontsize=9)
    figure.suptitle(f"{model}: confusion in % of the true class")
    figure.tight_layout()
    with atomic_output(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=90, format="png", bbox_inches="tight")
    plt.close(figure)


@dataclass(frozen=True)
class StageStatus:
    """A clip at one stage: done, quarantined, skipped (quarantined before it), missing (not listed)
    or n/a (a train clip of the training data at a model)."""

    stage: str
    status: str
    reason: str
    predicted: str | None = None  # a model's class, "no prediction", or "" without a row; None: not a model


@dataclass(frozen=True)
class ClipStatus:
    """A clip's row of clips.tsv: its status at every stage of its clip set (the training data's or
    an evaluation dataset's), in `stage_names` order."""

    clip: ReportClip
    stages: tuple[StageStatus, ...]

    def row(self) -> dict[str, str]:
        row = {"clip_id": self.clip.clip_id, "dataset": self.clip.dataset, "role": self.clip.role,
               "split": self.clip.split, "label": self.clip.label, "path": self.clip.path}
        for stage in self.stages:
            row[f"{stage.stage}_status"], row[f"{stage.stage}_reason"] = stage.status, stage.reason
            if stage.predicted is not None:
                row[f"{stage.stage}_predicted"] = stage.predicted
        return row


def clips_tsv_columns(table: ReportTable) -> list[str]:
    """clips.tsv's columns: the clip with its dataset and role, then per stage its status and reason
    (and a model's `{model}_predicted`: the predicted class, or "no prediction" for a clip it could not
    see)."""
    models = set(table.models).union(*(evaluation.models for evaluation in table.evaluations.values()))
    columns = ["clip_id", "dataset", "role", "split", "label", "path"]
    for stage in table.all_stage_names:
        columns += [f"{stage}_status", f"{stage}_reason"]
        if stage in models:
            columns.append(f"{stage}_predicted")
    return columns


def clip_statuses(table: ReportTable) -> list[ClipStatus]:
    """Every input clip's status per stage: the training data's clips, then each evaluation
    dataset's. The training data's prediction tables cover its val and test clips only, an evaluation
    dataset's every clip."""
    statuses = clip_set_statuses(table.clips, stages=table.stages, models=table.models)
    for evaluation in table.evaluations.values():
        statuses += clip_set_statuses(evaluation.clips, stages=evaluation.stages, models=evaluation.models)
    return statuses


def clip_set_statuses(clips: Sequence[ReportClip], *, stages: Sequence[str],
                      models: Sequence[str]) -> list[ClipStatus]:
    return [ClipStatus(clip=clip, stages=_stage_statuses(clip, stages=stages, models=models)) for clip in clips]


def _stage_statuses(clip: ReportClip, *, stages: Sequence[str], models: Sequence[str]) -> tuple[StageStatus, ...]:
    if clip.quarantined_at:
        reason = (clip.quarantine_reason if clip.quarantined_at == PROBE_STAGE
                  else f"{clip.quarantined_at}: {clip.quarantine_reason}")
        skipped = [StageStatus(stage, CLIP_STATUS_SKIPPED, f"quarantined at {PROBE_STAGE}",
                               predicted="" if stage in models else None) for stage in (*stages, *models)]
        return (StageStatus(PROBE_STAGE, STATUS_QUARANTINED, reason), *skipped)
    statuses = [StageStatus(PROBE_STAGE, CLIP_STATUS_DONE, "")]
    for stage in stages:
        row = clip.stage_rows.get(stage)
        statuses.append(StageStatus(stage, _listed_status(row.quarantined), row.reason) if row is not None
                        else StageStatus(stage, CLIP_STATUS_MISSING, f"not listed by {stage}"))
    for model in models:
        prediction = clip.predictions.get(model)
        if not clip.predicted_by_models:
            status, reason = CLIP_STATUS_NOT_APPLICABLE, f"{clip.split} split is not predicted"
        elif prediction is None:
            status, reason = CLIP_STATUS_MISSING, f"not listed by {model}"
        else:
            status, reason = _listed_status(prediction.quarantined), prediction.reason
        predicted = "" if prediction is None else prediction.predicted_class
        statuses.append(StageStatus(model, status, reason, predicted=predicted))
    return tuple(statuses)


def _listed_status(quarantined: bool) -> str:
    return STATUS_QUARANTINED if quarantined else CLIP_STATUS_DONE


def fusion_gain_section(weights: Mapping[str, Any], predictions: Mapping[str, Sequence[Prediction]], *,
                        n_resamples: int, seed: int) -> list[str]:
    """How much the grid-searched weights gain over equal weights on val, with a paired bootstrap."""
    models = list(weights["models"])
    lines = ["## Decision fusion (paper 3.2)", ""]
    lines.append(markdown_table(["model", "weight"], [[m, f"{weights['weights'][m]:.2f}"] for m in models]))
    lines.append("")
    lines.append(f"Grid step {weights['grid_step']} ({weights['n_grid_points']} weight vectors on the simplex); "
                 f"selection: {weights['selection']}; refit mode: {'yes' if weights.get('refit') else 'no'}"
                 + (" (fused test rows come from the models retrained on train+val)." if weights.get("refit") else "."))
    lines.append("")
    grid, equal = weights["val"], weights["equal_weights_val"]
    if grid["accuracy"] is None or not all(m in predictions for m in models):
        lines.append("No labelled validation clips: no gain over equal weights can be measured.")
        return lines + [""]
    aligned = align_predictions({m: [p.as_row() for p in predictions[m]] for m in models})
    val = aligned.subset((aligned.splits == "val") & (aligned.labels != ""))
    true = label_indices(list(val.labels))
    grid_weights = np.array([weights["weights"][m] for m in models])
    grid_predicted = fused_classes(fuse_probabilities(val.probs, val.ok, grid_weights))
    equal_predicted = fused_classes(fuse_probabilities(val.probs, val.ok, np.full(len(models), 1.0 / len(models))))
    differences = bootstrap_difference_intervals(true, grid_predicted, equal_predicted,
                                                 n_resamples=n_resamples, seed=seed,
                                                 confidence=BOOTSTRAP_CONFIDENCE)
    rows = []
    for metric in ("accuracy", "uar"):
        gain = grid[metric] - equal[metric]
        low, high = differences[metric]
        rows.append([metric, _percent(equal[metric]), _percent(grid[metric]),
                     f"{100 * gain:+.2f} [{100 * low:+.1f}, {100 * high:+.1f}]"])
    lines.append(f"Gain of the grid-searched weights over equal weights on val (n={len(true)}), "
                 "points, with a paired bootstrap 95 % interval:")
    lines.append("")
    lines.append(markdown_table(["metric", "equal weights %", "grid weights %", "gain (points) [95 % CI]"], rows))
    lines.append("")
    lines.append("The weights were chosen on these same validation clips, so this gain is optimistic; "
                 "only the test split measures it without selection bias.")
    partial = int((~val.ok).any(axis=0).sum())
    unseen = int((~val.ok).all(axis=0).sum())
    lines += ["", f"Every clip is fused over the models that saw it, their weights renormalised (equal "
              f"weights when all of them have weight 0), in the grid search as in the fused predictions: "
              f"{partial} of these val clips were not seen by every model, {unseen} by none (no prediction, "
              f"scored as wrong)."]
    return lines + [""]


@dataclass
class SplitCounts:
    """How many clips of a split the run predicted and how many of them it could score."""

    split: str
    n: int  # manifest clips of the split
    labelled: int  # scored
    unlabelled: int  # predicted only
    unlabelled_predicted: int | None  # unlabelled clips with a fused prediction (None: no fused table)

    def sentence(self) -> str:
        text = (f"{self.split}: {self.n} clips, {self.labelled} labelled (scored), {self.unlabelled} unlabelled "
                f"(predicted only")
        if self.unlabelled and self.unlabelled_predicted is not None:
            text += f"; {self.unlabelled_predicted} of them with a fused prediction"
        return text + ")"


def split_counts(table: ReportTable) -> list[SplitCounts]:
    """Per predicted split (val, test): manifest clips, labelled (scored) and unlabelled (predicted
    only, never scored); with a fused table, how many unlabelled clips have a fused prediction."""
    has_fusion = FUSION in table.models
    counts = []
    for split in REPORT_SPLITS:
        clips = [clip for clip in table.clips if not clip.quarantined_at and clip.split == split]
        unlabelled = [clip for clip in clips if not clip.label]
        fused = sum(1 for clip in unlabelled if FUSION in clip.predictions and clip.predictions[FUSION].seen)
        counts.append(SplitCounts(split=split, n=len(clips), labelled=len(clips) - len(unlabelled),
                                  unlabelled=len(unlabelled), unlabelled_predicted=fused if has_fusion else None))
    return counts


def split_counts_section(counts: Sequence[SplitCounts]) -> list[str]:
    lines = ["## Clips predicted and scored", ""]
    lines += [f"- {c.sentence()}" for c in counts]
    lines += ["", "Accuracy, UAR and the confusion matrices count the labelled clips only (their `n`). An "
              "unlabelled clip (AFEW's Test_AFEW/, the challenge's test set) is predicted by every model and "
              "the fusion (`clips.tsv`, the EmotiW submission) but never scored.", ""]
    return lines


def submission_section(submission: SubmissionTable, *, refit: bool) -> list[str]:
    """The EmotiW submission (`avemotion.submission`): where it is, its class counts, the test clips
    without a prediction and why."""
    entries, folder_name = submission.entries, submission.folder_name
    n_quarantined = sum(1 for entry in entries if entry.quarantined_at)
    counts = class_counts(entries)
    n_files = len(entries) - counts["no prediction"]
    lines = ["## EmotiW submission", ""]
    lines.append(f"`{folder_name}/submission.zip` holds {n_files} `<clip_id>.txt` files (the emotion name) for the "
                 f"{len(entries)} {SUBMISSION_SPLIT} clips"
                 + (f" ({n_quarantined} of them quarantined before the models, `quarantine.tsv`)"
                    if n_quarantined else "")
                 + ", from the fused predictions"
                 + (" of the models retrained on train+val (refit mode, paper 3.2)" if refit else "")
                 + f"; `{folder_name}/predictions.tsv` lists every {SUBMISSION_SPLIT} clip. Rename the zip after "
                 f"the team before sending it.")
    lines += ["", markdown_table(["emotion", "clips"], [[name, count] for name, count in counts.items()]), ""]
    missing = [[entry.clip_id, entry.reason] for entry in entries if not entry.predicted]
    if missing:
        shown = missing[:MAX_LISTED_QUARANTINED]
        lines += [f"{len(missing)} {SUBMISSION_SPLIT} clips have no prediction and no `.txt` (the challenge counts "
                  f"them as wrong)" + (f"; first {len(shown)} shown" if len(shown) < len(missing) else "") + ":", ""]
        lines += [markdown_table(["clip", "reason"], shown), ""]
    return lines


def vgg_lstm_deviation(vgg_lstm_init: Mapping[str, Any]) -> str:
    """The sentence that opens summary.md when the VGG-LSTMs were not initialised as in the paper
    (section 2.1: VGG-Face weights, then FER-2013 step (a)); "" when they were. `vgg_lstm_init`
    holds config["models"]["vgg_lstm"]'s vgg_face_weights, fer2013_csv and fer_iterations."""
    no_vgg_face = not vgg_lstm_init["vgg_face_weights"]
    skipped_fer = []
    if not vgg_lstm_init["fer2013_csv"]:
        skipped_fer.append("models.vgg_lstm.fer2013_csv empty")
    if int(vgg_lstm_init["fer_iterations"]) == 0:
        skipped_fer.append("models.vgg_lstm.fer_iterations 0")
    parts = []
    if no_vgg_face:
        parts.append("from random initialisation (no VGG-Face weights, models.vgg_lstm.vgg_face_weights empty)")
    if skipped_fer:
        parts.append(f"without FER-2013 step (a) ({', '.join(skipped_fer)})")
    if not parts:
        return ""
    return (f"**Not the paper's experiment:** the VGG-LSTMs were trained {' and '.join(parts)}, so their "
            f"scores and the fused network's are not comparable with the paper's.")


def opening_section(*, deviation: str, bootstrap_samples: int, seed: int) -> list[str]:
    """The title, the deviation from the paper's initialisation (if any) and how to read the scores."""
    lines = ["# avemotion results", ""]
    if deviation:
        lines += [deviation, ""]
    lines.append(
        f"Accuracy and UAR (unweighted average recall) in percent over the labelled clips, each with a "
        f"{100 * BOOTSTRAP_CONFIDENCE:.0f} % percentile bootstrap interval ({bootstrap_samples} resamples of "
        f"the clips, seed {seed}). Differences smaller than these intervals are noise. Paper values: "
        f"EmotiW 2017 AFEW validation (Tables 1-5, section 3.2) and the fused test submission (Table 6); "
        f"challenge baseline {CHALLENGE_BASELINE_VAL_ACCURACY:.2f} % val accuracy. A clip a model "
        f"could not see (quarantined: no face on its track, no or silent audio) has no prediction from it and "
        f"counts as wrong (a miss of its true class in the UAR); the fused network predicts a clip from the "
        f"models that saw it."
    )
    return lines + [""]


def settings_section(paper_deviations: Sequence[str]) -> list[str]:
    """The summary's lines on how this run's config differs from the paper's values."""
    if not paper_deviations:
        return ["## Settings", "", "Every setting the paper gives has the paper's value (configs/paper.yaml).", ""]
    return ["## Settings that differ from the paper", "",
            f"{len(paper_deviations)} settings of this run are not the paper's (key: this run's value, the "
            f"paper's value and where the paper gives it; configs/paper.yaml has them all):", "",
            *(f"- {deviation}" for deviation in paper_deviations), ""]


def models_section(scores: Mapping[str, Mapping[str, SplitScores]]) -> list[str]:
    """All models side by side, ours beside the paper's, on val and test."""
    header = ["model",
              "val n (scored)", "val accuracy [95 % CI]", "val UAR [95 % CI]", "paper val acc", "paper val UAR",
              "test n (scored)", "test accuracy [95 % CI]", "test UAR [95 % CI]", "paper test acc", "paper test UAR",
              "no prediction (val / test)"]
    rows = []
    for model, by_split in scores.items():
        row: list[object] = [f"**{model}**" if model == FUSION else model]
        for split in REPORT_SPLITS:
            s = by_split.get(split)
            paper_accuracy, paper_uar = paper_scores(model, split)
            if s is None:
                row += [0, "–", "–"]
            else:
                row += [s.n, _with_interval(s.accuracy, s.accuracy_interval), _with_interval(s.uar, s.uar_interval)]
            row += [_paper_cell(paper_accuracy), _paper_cell(paper_uar)]
        row.append(" / ".join(str(by_split[split].n_no_prediction) if split in by_split else "–"
                              for split in REPORT_SPLITS))
        rows.append(row)
    return ["## All models side by side", "", markdown_table(header, rows), ""]


def confusions_section(scores: Mapping[str, Mapping[str, SplitScores]]) -> list[str]:
    """Each model's confusion matrix per scored split, the paper's cells beside ours."""
    lines = ["## Confusion matrices (percent of the true class; rows true AN DI FE HA NE SA SU)", ""]
    lines += ["Ours are 7 x 8: the last column holds the clips the model could not see (no prediction, "
              "scored as wrong); the paper's tables are 7 x 7 and sit in parentheses beside our first seven "
              "columns.", ""]
    for model, by_split in scores.items():
        for split, s in by_split.items():
            paper = paper_confusion(model, split)
            paper_accuracy, paper_uar = paper_scores(model, split)
            title = f"### {model}, {split}"
            if paper is not None:
                title += f" (paper Table {PAPER_CONFUSION_TABLE[model]} in parentheses)"
            lines += [title, ""]
            summary = (f"n = {s.n} ({s.n_no_prediction} without prediction); "
                       f"accuracy {_with_interval(s.accuracy, s.accuracy_interval)} %, "
                       f"UAR {_with_interval(s.uar, s.uar_interval)} %")
            if paper_accuracy is not None:
                summary += f"; paper: accuracy {paper_accuracy:.2f} %"
                summary += f", UAR {paper_uar:.2f} %" if paper_uar is not None else ""
            lines += [summary, "", confusion_markdown(s.confusion_percent, paper, s.absent_classes), ""]
        if not by_split:
            lines += [f"### {model}", "", "No labelled val or test clips.", ""]
    return lines


def clips_section(statuses: Sequence[ClipStatus], *, stage_names: Sequence[str]) -> list[str]:
    """How many clips each stage did, quarantined, skipped or missed; the quarantined clip-stage pairs."""
    lines = ["## Clips per stage", ""]
    lines.append(f"{len(statuses)} input clips; `clips.tsv` lists each with its status and reason per stage "
                 "(done; quarantined; skipped: an earlier stage excluded it; missing: not listed by the "
                 "stage; n/a: train clips have no predictions).")
    lines.append("")
    return lines + stage_counts_lines(statuses, stage_names=stage_names)


def stage_counts_lines(statuses: Sequence[ClipStatus], *, stage_names: Sequence[str]) -> list[str]:
    """The table of clips per stage and status, then the quarantined clip-stage pairs."""
    counts = [[stage] + [sum(1 for clip in statuses if clip.stages[i].status == status) for status in CLIP_STATUSES]
              for i, stage in enumerate(stage_names)]
    lines = [markdown_table(["stage", "done", "quarantined", "skipped", "missing", "n/a"], counts)]
    quarantined = [(clip.clip.clip_id, stage.stage, stage.reason) for clip in statuses for stage in clip.stages
                   if stage.status == STATUS_QUARANTINED]
    if quarantined:
        shown = quarantined[:MAX_LISTED_QUARANTINED]
        lines += ["", f"Quarantined ({len(quarantined)} clip-stage pairs"
                  + (f", first {len(shown)} shown; all in `clips.tsv`" if len(shown) < len(quarantined) else "")
                  + "):", ""]
        lines.append(markdown_table(["clip", "stage", "reason"], shown))
    return lines + [""]


def present_classes(clips: Sequence[ReportClip]) -> tuple[str, ...]:
    """The classes with at least one labelled clip among the manifest's `clips`, in CLASSES order."""
    labels = {clip.label for clip in clips if not clip.quarantined_at and clip.label}
    return tuple(c for c in CLASSES if c in labels)


def dataset_clips(table: ReportTable, dataset: Mapping[str, str]) -> tuple[ReportClip, ...]:
    """A dataset's clips: an evaluation dataset's whole clip set, a training dataset's share of the
    training data."""
    if dataset.get("role") == ROLE_EVALUATE:
        evaluation = table.evaluations.get(dataset["name"])
        return () if evaluation is None else evaluation.clips
    return tuple(clip for clip in table.clips if clip.dataset == dataset["name"])


def datasets_section(table: ReportTable) -> list[str]:
    """Each dataset of the run: kind, role, path, clips, the classes it has and lacks, its label mapping."""
    rows = []
    for dataset in table.datasets:
        clips = dataset_clips(table, dataset)
        n_quarantined = sum(1 for clip in clips if clip.quarantined_at)
        present = present_classes(clips)
        absent = [c for c in CLASSES if c not in present]
        rows.append([dataset["name"], dataset.get("kind", ""), dataset.get("role", ROLE_TRAIN),
                     f"`{dataset['path']}`" if dataset.get("path") else "–", len(clips) - n_quarantined,
                     n_quarantined, " ".join(present) or "–", " ".join(absent) or "none"])
    lines = ["## Datasets", "",
             markdown_table(["dataset", "kind", "role", "path", "clips (manifest)", "quarantined", "classes present",
                             "classes absent"], rows), "",
             "Training datasets are split into train, val and test; an evaluation dataset is never trained on "
             "and is predicted and scored on all its clips. A dataset's scores count only the classes it has: "
             "its UAR averages the recalls of its classes present, and its confusion matrices mark the rows of "
             f"the classes it lacks \"{ABSENT}\".", ""]
    mappings = [f"- **{dataset['name']}**: {dataset['label_mapping']}" for dataset in table.datasets
                if dataset.get("label_mapping")]
    if mappings:
        lines += ["How each dataset's labels map onto the paper's seven classes (AN DI FE HA NE SA SU):", "",
                  *mappings, ""]
    return lines


def training_datasets_section(groups: Sequence[DatasetScores]) -> list[str]:
    """With several training datasets: every model on each one's own val and test clips, and the
    fused val confusion of each."""
    header = ["dataset", "model", "val n (scored)", "val accuracy [95 % CI]", "val UAR [95 % CI]",
              "test n (scored)", "test accuracy [95 % CI]", "test UAR [95 % CI]"]
    rows = []
    for group in groups:
        for model, by_split in group.scores.items():
            row: list[object] = [group.dataset, f"**{model}**" if model == FUSION else model]
            for split in REPORT_SPLITS:
                row += _scores_cells(by_split.get(split))
            rows.append(row)
    lines = ["## Per training dataset", "",
             "The models trained on the pooled datasets, scored on each dataset's own val and test clips.", "",
             markdown_table(header, rows), ""]
    for group in groups:
        fused_val = group.scores.get(FUSION, {}).get("val")
        if fused_val is not None:
            lines += [f"### {FUSION}, {group.dataset} val", "", _scores_sentence(fused_val), "",
                      confusion_markdown(fused_val.confusion_percent, None, fused_val.absent_classes), ""]
    return lines


def cross_corpus_section(evaluation: EvaluationTable, group: DatasetScores,
                         in_corpus: Mapping[str, Mapping[str, SplitScores]], *, training_label: str) -> list[str]:
    """One evaluation dataset: every model's scores over all its labelled clips, the drop from its
    in-corpus val score, the confusion matrices and the clips per stage."""
    manifest_clips = [clip for clip in evaluation.clips if not clip.quarantined_at]
    per_split = ", ".join(f"{split} {count}" for split, count in _split_sizes(manifest_clips).items())
    n_labelled = sum(1 for clip in manifest_clips if clip.label)
    present = present_classes(evaluation.clips)
    absent = [c for c in CLASSES if c not in present]
    lines = [f"## Cross-corpus: {evaluation.name}", ""]
    lines.append(f"Never trained on: every model predicted every clip of every split ({len(manifest_clips)} clips: "
                 f"{per_split or 'none'}; {n_labelled} labelled and scored; "
                 f"{len(evaluation.clips) - len(manifest_clips)} quarantined before the models). "
                 f"Classes present: {' '.join(present) or 'none'}; absent: {' '.join(absent) or 'none'}"
                 + (f" (its UAR averages its {len(present)} classes)." if absent else "."))
    lines += ["", f"Drop: the model's in-corpus val score ({training_label or 'training data'}) minus its score "
              "here, in points, with a 95 % percentile bootstrap interval that resamples the two clip sets "
              "independently.", ""]
    header = ["model", "n (scored)", "accuracy [95 % CI]", "UAR [95 % CI]", "in-corpus val acc",
              "in-corpus val UAR", "accuracy drop (points) [95 % CI]", "UAR drop (points) [95 % CI]", "no prediction"]
    rows = []
    for model, by_split in group.scores.items():
        cross = by_split.get(EVALUATION_SPLIT)
        val = in_corpus.get(model, {}).get("val")
        drop = group.drops.get(model)
        rows.append([f"**{model}**" if model == FUSION else model, *_scores_cells(cross),
                     "–" if val is None else _percent(val.accuracy), "–" if val is None else _percent(val.uar),
                     "–" if drop is None else _points_with_interval(drop.accuracy, drop.accuracy_interval),
                     "–" if drop is None else _points_with_interval(drop.uar, drop.uar_interval),
                     "–" if cross is None else cross.n_no_prediction])
    lines += [markdown_table(header, rows), ""]
    for model, by_split in group.scores.items():
        cross = by_split.get(EVALUATION_SPLIT)
        if cross is not None:
            lines += [f"### {evaluation.name}: {model}, all splits (percent of the true class)", "",
                      _scores_sentence(cross), "",
                      confusion_markdown(cross.confusion_percent, None, cross.absent_classes), ""]
    statuses = clip_set_statuses(evaluation.clips, stages=evaluation.stages, models=evaluation.models)
    lines += [f"### {evaluation.name}: clips per stage", ""]
    return lines + stage_counts_lines(statuses, stage_names=evaluation.stage_names)


def _split_sizes(clips: Sequence[ReportClip]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for clip in clips:
        sizes[clip.split or "no split"] = sizes.get(clip.split or "no split", 0) + 1
    return sizes


def _scores_cells(s: SplitScores | None) -> list[object]:
    """n, accuracy and UAR with intervals; 0 and dashes without labelled clips."""
    if s is None:
        return [0, "–", "–"]
    return [s.n, _with_interval(s.accuracy, s.accuracy_interval), _with_interval(s.uar, s.uar_interval)]


def _scores_sentence(s: SplitScores) -> str:
    return (f"n = {s.n} ({s.n_no_prediction} without prediction); accuracy "
            f"{_with_interval(s.accuracy, s.accuracy_interval)} %, UAR {_with_interval(s.uar, s.uar_interval)} %")


def _points_with_interval(value: float, interval: tuple[float, float]) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{100 * value:+.2f} [{100 * interval[0]:+.1f}, {100 * interval[1]:+.1f}]"


def summary_markdown(table: ReportTable, inputs: ReportInputs, *, scores: Mapping[str, Mapping[str, SplitScores]],
                     statuses: Sequence[ClipStatus], groups: Sequence[DatasetScores] = ()) -> str:
    """summary.md: the sections in reading order, each ending with a blank line. `groups`: the
    per-dataset scores (`score_datasets`)."""
    fuses_vgg_lstms = any(model.startswith("vgg_lstm") for model in table.models)
    deviation = vgg_lstm_deviation(inputs.vgg_lstm_init) if inputs.vgg_lstm_init is not None and fuses_vgg_lstms else ""
    lines = opening_section(deviation=deviation, bootstrap_samples=inputs.bootstrap_samples, seed=inputs.seed)
    lines += settings_section(inputs.paper_deviations)
    if table.datasets:
        lines += datasets_section(table)
    lines += split_counts_section(split_counts(table))
    if table.submission is not None:
        lines += submission_section(table.submission, refit=bool(table.weights.get("refit")))
    lines += models_section(scores)
    training_groups = [group for group in groups[1:] if group.role == ROLE_TRAIN]
    if training_groups:
        lines += training_datasets_section(training_groups)
    lines += fusion_gain_section(table.weights, table.predictions, n_resamples=inputs.bootstrap_samples,
                                 seed=inputs.seed)
    lines += confusions_section(scores)
    for group in groups:
        if group.role == ROLE_EVALUATE:
            lines += cross_corpus_section(table.evaluations[group.dataset], group, scores,
                                          training_label=table.training_label)
    training_statuses = [status for status in statuses if status.clip.role == ROLE_TRAIN]
    lines += clips_section(training_statuses, stage_names=table.stage_names)
    return "\n".join(lines)


def build_report(inputs: ReportInputs, outputs: ReportOutputs) -> dict[str, dict[str, SplitScores]]:
    """Read the run's files once and write every report file; returns each model's scores per split
    on the training data."""
    table = read_report_table(inputs)
    scores = score_models(table, n_resamples=inputs.bootstrap_samples, seed=inputs.seed)
    groups = score_datasets(table, scores, n_resamples=inputs.bootstrap_samples, seed=inputs.seed)
    for model in table.models:
        if model in outputs.confusion_pngs:
            cross_corpus = [(group.dataset, group.scores[model][EVALUATION_SPLIT]) for group in groups
                            if EVALUATION_SPLIT in group.scores.get(model, {})]
            plot_confusions(outputs.confusion_pngs[model], model=model, scores=list(scores[model].values()),
                            cross_corpus=cross_corpus)
    write_tsv(outputs.summary_tsv, SUMMARY_COLUMNS, summary_tsv_rows(groups))
    statuses = clip_statuses(table)
    write_tsv(outputs.clips_tsv, clips_tsv_columns(table), [status.row() for status in statuses])
    markdown = summary_markdown(table, inputs, scores=scores, statuses=statuses, groups=groups)
    with atomic_output(outputs.summary_md) as tmp:
        tmp.write_text(markdown)
    return scores
