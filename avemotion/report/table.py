"""The report's inputs, read once: the files a run hands the report (`ReportInputs`, `EvaluationInputs`,
`ReportOutputs`) and the `ReportTable` they are read into: every input clip with its row in each stage index
and each model's prediction, for the training data and each evaluation dataset."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..artifacts import STATUS_OK, STATUS_QUARANTINED, read_fusion_weights, read_predictions, read_tsv
from ..constants import CLASSES
from ..metrics import NO_PREDICTION_LABEL, predicted_index
from ..submission import SubmissionEntry

StrPath = str | os.PathLike

REPORT_SPLITS: tuple[str, ...] = ("val", "test")
EVALUATION_SPLIT = "all"  # an evaluation dataset is scored over its labelled clips of every split
ROLE_TRAIN = "train"
ROLE_EVALUATE = "evaluate"
PROBE_STAGE = "probe"


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
        predictions=predictions, weights=read_fusion_weights(inputs.weights), submission=submission,
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
