"""Every input clip's status per stage (clips.tsv), and the clips per predicted split."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..artifacts import STATUS_QUARANTINED
from ..constants import FUSION
from .table import PROBE_STAGE, REPORT_SPLITS, ReportClip, ReportTable

CLIP_STATUS_DONE = "done"
CLIP_STATUS_SKIPPED = "skipped"
CLIP_STATUS_MISSING = "missing"
CLIP_STATUS_NOT_APPLICABLE = "n/a"
CLIP_STATUSES: tuple[str, ...] = (
    CLIP_STATUS_DONE, STATUS_QUARANTINED, CLIP_STATUS_SKIPPED, CLIP_STATUS_MISSING, CLIP_STATUS_NOT_APPLICABLE,
)


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
