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

Files written to `results/report/`: `summary.md`, `summary.tsv` (the side-by-side table),
`clips.tsv`, `confusion_{model}.png`.
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

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
from .fusion import fuse_probabilities, fused_classes, load_predictions
from .submission import SUBMISSION_SPLIT
from .metrics import (
    CONFUSION_COLUMNS,
    NO_PREDICTION_LABEL,
    bootstrap_confidence_intervals,
    bootstrap_difference_intervals,
    confusion_percent,
    label_indices,
    predicted_index,
    predicted_indices,
    summarize,
)

log = logging.getLogger(__name__)

REPORT_SPLITS: tuple[str, ...] = ("val", "test")
CLIP_STATUS_DONE = "done"
CLIP_STATUS_SKIPPED = "skipped"
CLIP_STATUS_MISSING = "missing"
CLIP_STATUS_NOT_APPLICABLE = "n/a"
MAX_LISTED_QUARANTINED = 50
SUMMARY_COLUMNS: tuple[str, ...] = (
    "model", "split", "n", "n_quarantined", "n_no_prediction", "accuracy", "accuracy_low", "accuracy_high",
    "uar", "uar_low", "uar_high", "paper_accuracy", "paper_uar",
)


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

    @property
    def confusion_percent(self) -> np.ndarray:
        return confusion_percent(self.confusion)


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


def score_split(model: str, split: str, rows: Sequence[Mapping[str, object]], n_resamples: int,
                seed: int) -> SplitScores | None:
    """Scores of the labelled rows of one split; None when the split has no labelled clip."""
    labelled = [row for row in rows if row["split"] == split and row["label"]]
    if not labelled:
        return None
    true = label_indices([str(row["label"]) for row in labelled])
    predicted = predicted_indices([row["probs"] for row in labelled])
    summary = summarize(true, predicted)
    intervals = bootstrap_confidence_intervals(true, predicted, n_resamples=n_resamples, seed=seed,
                                               confidence=BOOTSTRAP_CONFIDENCE)
    return SplitScores(
        model=model,
        split=split,
        n=len(labelled),
        n_quarantined=sum(1 for row in labelled if row["status"] != STATUS_OK),
        n_no_prediction=int(summary["n_no_prediction"]),
        accuracy=float(summary["accuracy"]),
        uar=float(summary["uar"]),
        accuracy_interval=intervals["accuracy"],
        uar_interval=intervals["uar"],
        confusion=np.array(summary["confusion"]),
    )


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


def confusion_markdown(ours: np.ndarray, paper: np.ndarray | None) -> str:
    """Rows = true class AN..SU, columns = predicted AN..SU then "no prediction" (ours is 7 x 8, the
    paper's 7 x 7: its cells go beside ours in the first seven columns); each cell 'ours (paper)' in
    percent."""
    rows = []
    for i, true_class in enumerate(CLASSES):
        cells = []
        for j in range(len(CONFUSION_COLUMNS)):
            cell = f"{ours[i, j]:.2f}"
            if paper is not None and j < paper.shape[1]:
                cell += f" ({paper[i, j]:.2f})"
            cells.append(cell)
        rows.append([f"**{true_class}**"] + cells)
    return markdown_table(["true \\ predicted"] + list(CONFUSION_COLUMNS), rows)


def plot_confusions(path: str | os.PathLike, model: str, scores: Sequence[SplitScores]) -> None:
    """PNG heatmaps: ours per scored split (7 x 8, the last column "no prediction"), then the
    paper's table for this model (7 x 7), if any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, np.ndarray]] = [
        (f"ours, {s.split} (n={s.n}, {s.n_no_prediction} without prediction)\nacc {_percent(s.accuracy, 1)} %, UAR {_percent(s.uar, 1)} %",
         s.confusion_percent)
        for s in scores
    ]
    if model in PAPER_CONFUSION_PERCENT:
        split = PAPER_CONFUSION_SPLIT[model]
        accuracy, uar = paper_scores(model, split)
        panels.append((f"paper Table {PAPER_CONFUSION_TABLE[model]}, {split}\n"
                       f"acc {accuracy:.1f} %, UAR {uar:.1f} %",
                       np.array(PAPER_CONFUSION_PERCENT[model])))
    if not panels:
        panels.append(("no labelled clips", np.zeros((len(CLASSES), len(CONFUSION_COLUMNS)))))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.6), squeeze=False)
    for axis, (title, matrix) in zip(axes[0], panels):
        axis.imshow(matrix, cmap="Blues", vmin=0, vmax=100)
        for i, j in np.ndindex(*matrix.shape):
            axis.text(j, i, f"{matrix[i, j]:.0f}", ha="center", va="center", fontsize=8,
                      color="white" if matrix[i, j] > 55 else "black")
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


def clip_status_table(
    manifest_path: str | os.PathLike,
    quarantine_path: str | os.PathLike,
    stage_index_paths: Mapping[str, str | os.PathLike],
    prediction_paths: Mapping[str, str | os.PathLike],
) -> tuple[list[str], list[dict[str, str]]]:
    """Every input clip (manifest + probe quarantine) with its status and reason per stage.

    Stage indices are optional: a stage whose index is not given is left out. An index without a
    status column counts every listed clip as done. Prediction tables cover val and test clips only;
    each model also gets a `{model}_predicted` column: the predicted class, or "no prediction" for a
    clip it could not see (scored as a miss).
    """
    stages = ["probe"] + list(stage_index_paths) + list(prediction_paths)
    columns = ["clip_id", "split", "label", "path"]
    for stage in stages:
        columns += [f"{stage}_status", f"{stage}_reason"]
        if stage in prediction_paths:
            columns.append(f"{stage}_predicted")
    indices: dict[str, dict[str, Mapping[str, object]]] = {}
    for stage, path in stage_index_paths.items():
        indices[stage] = {row["clip_id"]: row for row in read_tsv(path)}
    for model, path in prediction_paths.items():
        indices[model] = {str(row["clip_id"]): row for row in read_predictions(path)}

    table = []
    for row in read_tsv(manifest_path):
        clip_id = row["clip_id"]
        entry = {"clip_id": clip_id, "split": row.get("split", ""), "label": row.get("label", ""),
                 "path": row.get("path", ""), "probe_status": CLIP_STATUS_DONE, "probe_reason": ""}
        excluded_by = ""
        for stage in stages[1:]:
            stage_row = indices[stage].get(clip_id)
            if stage in prediction_paths and entry["split"] not in REPORT_SPLITS:
                status, reason = CLIP_STATUS_NOT_APPLICABLE, f"{entry['split']} split is not predicted"
            elif stage_row is None:
                status = CLIP_STATUS_SKIPPED if excluded_by else CLIP_STATUS_MISSING
                reason = f"quarantined at {excluded_by}" if excluded_by else f"not listed by {stage}"
            else:
                quarantined = str(stage_row.get("status", STATUS_OK) or STATUS_OK) == STATUS_QUARANTINED
                status = STATUS_QUARANTINED if quarantined else CLIP_STATUS_DONE
                reason = str(stage_row.get("reason", "") or "")
            entry[f"{stage}_status"], entry[f"{stage}_reason"] = status, reason
            if stage in prediction_paths:
                entry[f"{stage}_predicted"] = "" if stage_row is None else _predicted_label(stage_row["probs"])
        table.append(entry)
    for row in read_tsv(quarantine_path):
        stage = row.get("stage", "probe") or "probe"
        reason = row.get("reason", "")
        entry = {"clip_id": row["clip_id"], "split": row.get("split", ""), "label": row.get("label", ""),
                 "path": row.get("path", ""), "probe_status": STATUS_QUARANTINED,
                 "probe_reason": reason if stage == "probe" else f"{stage}: {reason}"}
        for later in stages[1:]:
            entry[f"{later}_status"], entry[f"{later}_reason"] = CLIP_STATUS_SKIPPED, "quarantined at probe"
            if later in prediction_paths:
                entry[f"{later}_predicted"] = ""
        table.append(entry)
    return columns, table


def _predicted_label(probs: np.ndarray | None) -> str:
    return NO_PREDICTION_LABEL if probs is None else CLASSES[predicted_index(probs)]


def _status_counts(columns: Sequence[str], table: Sequence[Mapping[str, str]]) -> list[list[object]]:
    rows = []
    for column in columns:
        if not column.endswith("_status"):
            continue
        values = [entry[column] for entry in table]
        rows.append([column[: -len("_status")]] + [values.count(s) for s in (
            CLIP_STATUS_DONE, STATUS_QUARANTINED, CLIP_STATUS_SKIPPED, CLIP_STATUS_MISSING, CLIP_STATUS_NOT_APPLICABLE)])
    return rows


def fusion_gain_section(weights: Mapping[str, object], prediction_paths: Mapping[str, str | os.PathLike],
                        n_resamples: int, seed: int) -> str:
    """How much the grid-searched weights gain over equal weights on val, with a paired bootstrap."""
    models = [m for m in weights["models"]]
    lines = ["## Decision fusion (paper 3.2)", ""]
    lines.append(markdown_table(["model", "weight"], [[m, f"{weights['weights'][m]:.2f}"] for m in models]))
    lines.append("")
    lines.append(f"Grid step {weights['grid_step']} ({weights['n_grid_points']} weight vectors on the simplex); "
                 f"selection: {weights['selection']}; refit mode: {'yes' if weights.get('refit') else 'no'}"
                 + (" (fused test rows come from the models retrained on train+val)." if weights.get("refit") else "."))
    lines.append("")
    grid, equal = weights["val"], weights["equal_weights_val"]
    if grid["accuracy"] is None or not all(m in prediction_paths for m in models):
        lines.append("No labelled validation clips: no gain over equal weights can be measured.")
        return "\n".join(lines)
    predictions = load_predictions({m: prediction_paths[m] for m in models})
    val = predictions.subset((predictions.splits == "val") & (predictions.labels != ""))
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
    return "\n".join(lines)


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


def split_counts(manifest_rows: Sequence[Mapping[str, str]], fused_rows: Sequence[Mapping[str, object]] | None
                 ) -> list[SplitCounts]:
    """Per predicted split (val, test): manifest clips, labelled (scored) and unlabelled (predicted
    only, never scored); with the fused rows, how many unlabelled clips have a fused prediction."""
    fused_ok = None if fused_rows is None else {
        str(row["clip_id"]) for row in fused_rows if row["status"] == STATUS_OK and row["probs"] is not None}
    counts = []
    for split in REPORT_SPLITS:
        rows = [row for row in manifest_rows if row.get("split") == split]
        unlabelled = [row["clip_id"] for row in rows if not row.get("label")]
        counts.append(SplitCounts(
            split=split, n=len(rows), labelled=len(rows) - len(unlabelled), unlabelled=len(unlabelled),
            unlabelled_predicted=None if fused_ok is None else sum(1 for c in unlabelled if c in fused_ok)))
    return counts


def split_counts_section(counts: Sequence[SplitCounts]) -> list[str]:
    lines = ["## Clips predicted and scored", ""]
    lines += [f"- {c.sentence()}" for c in counts]
    lines += ["", "Accuracy, UAR and the confusion matrices count the labelled clips only (their `n`). An "
              "unlabelled clip (AFEW's Test_AFEW/, the challenge's test set) is predicted by every model and "
              "the fusion (`clips.tsv`, the EmotiW submission) but never scored.", ""]
    return lines


def submission_section(table_path: str | os.PathLike, refit: bool) -> list[str]:
    """The EmotiW submission (`avemotion.submission`): where it is, its class counts, the test clips
    without a prediction and why."""
    from .submission import SubmissionEntry, class_counts

    rows = read_tsv(table_path)
    entries = [SubmissionEntry(row["clip_id"], row["class"], row.get("label", ""), row.get("reason", ""),
                               row.get("quarantined_at", "")) for row in rows]
    n_quarantined = sum(1 for entry in entries if entry.quarantined_at)
    counts = class_counts(entries)
    n_files = len(entries) - counts["no prediction"]
    folder = Path(table_path).parent
    lines = ["## EmotiW submission", ""]
    lines.append(f"`{folder.name}/submission.zip` holds {n_files} `<clip_id>.txt` files (the emotion name) for the "
                 f"{len(entries)} {SUBMISSION_SPLIT} clips"
                 + (f" ({n_quarantined} of them quarantined before the models, `quarantine.tsv`)" if n_quarantined else "")
                 + ", from the fused predictions"
                 + (" of the models retrained on train+val (refit mode, paper 3.2)" if refit else "")
                 + f"; `{folder.name}/predictions.tsv` lists every {SUBMISSION_SPLIT} clip. Rename the zip after "
                 f"the team before sending it.")
    lines += ["", markdown_table(["emotion", "clips"], [[name, count] for name, count in counts.items()]), ""]
    missing = [[entry.clip_id, entry.reason] for entry in entries if not entry.predicted]
    if missing:
        shown = missing[:MAX_LISTED_QUARANTINED]
        lines += [f"{len(missing)} {SUBMISSION_SPLIT} clips have no prediction and no `.txt` (the challenge counts "
                  f"them as wrong)" + (f"; first {len(shown)} shown" if len(shown) < len(missing) else "") + ":", ""]
        lines += [markdown_table(["clip", "reason"], shown), ""]
    return lines


def vgg_lstm_deviation(vgg_lstm_init: Mapping[str, object]) -> str:
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


def settings_section(paper_deviations: Sequence[str]) -> list[str]:
    """The summary's lines on how this run's config differs from the paper's values."""
    if not paper_deviations:
        return ["## Settings", "", "Every setting the paper gives has the paper's value (configs/paper.yaml).", ""]
    return ["## Settings that differ from the paper", "",
            f"{len(paper_deviations)} settings of this run are not the paper's (key: this run's value, the "
            f"paper's value and where the paper gives it; configs/paper.yaml has them all):", "",
            *(f"- {deviation}" for deviation in paper_deviations), ""]


def build_report(
    prediction_paths: Mapping[str, str | os.PathLike],
    weights_path: str | os.PathLike,
    manifest_path: str | os.PathLike,
    quarantine_path: str | os.PathLike,
    stage_index_paths: Mapping[str, str | os.PathLike],
    summary_md_path: str | os.PathLike,
    summary_tsv_path: str | os.PathLike,
    clips_tsv_path: str | os.PathLike,
    confusion_png_paths: Mapping[str, str | os.PathLike],
    bootstrap_samples: int = 1000,
    seed: int = 0,
    vgg_lstm_init: Mapping[str, object] | None = None,
    paper_deviations: Sequence[str] = (),
    submission_table_path: str | os.PathLike | None = None,
) -> dict[str, dict[str, SplitScores]]:
    """Write the whole report. `prediction_paths` lists the models in table order (fusion last);
    `vgg_lstm_init` (see `vgg_lstm_deviation`) says how the VGG-LSTMs were initialised;
    `paper_deviations` lists the run's settings that differ from the paper's
    (`avemotion.config.paper_deviations`); `submission_table_path` is the EmotiW submission's
    `predictions.tsv` (`avemotion.submission`), listed when given."""
    weights = json.loads(Path(weights_path).read_text())
    scores: dict[str, dict[str, SplitScores]] = {}
    fused_rows = None
    for model, path in prediction_paths.items():
        rows = read_predictions(path)
        if model == FUSION:
            fused_rows = rows
        scores[model] = {}
        for split in REPORT_SPLITS:
            split_scores = score_split(model, split, rows, bootstrap_samples, seed)
            if split_scores is not None:
                scores[model][split] = split_scores
        if model in confusion_png_paths:
            plot_confusions(confusion_png_paths[model], model, list(scores[model].values()))

    summary_rows = []
    for model, by_split in scores.items():
        for split, s in by_split.items():
            paper_accuracy, paper_uar = paper_scores(model, split)
            summary_rows.append({
                "model": model, "split": split, "n": s.n, "n_quarantined": s.n_quarantined,
                "n_no_prediction": s.n_no_prediction,
                "accuracy": s.accuracy, "accuracy_low": s.accuracy_interval[0],
                "accuracy_high": s.accuracy_interval[1], "uar": s.uar, "uar_low": s.uar_interval[0],
                "uar_high": s.uar_interval[1],
                "paper_accuracy": "" if paper_accuracy is None else paper_accuracy / 100,
                "paper_uar": "" if paper_uar is None else paper_uar / 100,
            })
    write_tsv(summary_tsv_path, SUMMARY_COLUMNS, summary_rows)

    columns, clips = clip_status_table(manifest_path, quarantine_path, stage_index_paths, prediction_paths)
    write_tsv(clips_tsv_path, columns, clips)

    fuses_vgg_lstms = any(model.startswith("vgg_lstm") for model in prediction_paths)
    deviation = vgg_lstm_deviation(vgg_lstm_init) if vgg_lstm_init is not None and fuses_vgg_lstms else ""
    extra_sections = split_counts_section(split_counts(read_tsv(manifest_path), fused_rows))
    if submission_table_path is not None:
        extra_sections += submission_section(submission_table_path, bool(weights.get("refit")))
    markdown = _summary_markdown(scores, weights, prediction_paths, columns, clips, bootstrap_samples, seed,
                                 deviation, paper_deviations, extra_sections)
    with atomic_output(summary_md_path) as tmp:
        tmp.write_text(markdown)
    return scores


def _summary_markdown(scores, weights, prediction_paths, columns, clips, bootstrap_samples, seed,
                      deviation: str, paper_deviations: Sequence[str] = (),
                      extra_sections: Sequence[str] = ()) -> str:
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
    lines += ["", *settings_section(paper_deviations), *extra_sections, "## All models side by side", ""]
    header = ["model", "val n (scored)", "val accuracy [95 % CI]", "val UAR [95 % CI]", "paper val acc", "paper val UAR",
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
    lines.append(markdown_table(header, rows))
    lines += ["", fusion_gain_section(weights, prediction_paths, bootstrap_samples, seed), ""]

    lines += ["## Confusion matrices (percent of the true class; rows true AN DI FE HA NE SA SU)", ""]
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
            lines += [summary, "", confusion_markdown(s.confusion_percent, paper), ""]
        if not by_split:
            lines += [f"### {model}", "", "No labelled val or test clips.", ""]

    lines += ["## Clips per stage", ""]
    lines.append(f"{len(clips)} input clips; `clips.tsv` lists each with its status and reason per stage "
                 "(done; quarantined; skipped: an earlier stage excluded it; missing: not listed by the "
                 "stage; n/a: train clips have no predictions).")
    lines.append("")
    lines.append(markdown_table(["stage", "done", "quarantined", "skipped", "missing", "n/a"],
                                _status_counts(columns, clips)))
    quarantined = [(entry["clip_id"], column[: -len("_status")], entry[column[: -len("_status")] + "_reason"])
                   for entry in clips for column in columns
                   if column.endswith("_status") and entry[column] == STATUS_QUARANTINED]
    if quarantined:
        shown = quarantined[:MAX_LISTED_QUARANTINED]
        lines += ["", f"Quarantined ({len(quarantined)} clip-stage pairs"
                  + (f", first {len(shown)} shown; all in `clips.tsv`" if len(shown) < len(quarantined) else "")
                  + "):", ""]
        lines.append(markdown_table(["clip", "stage", "reason"], shown))
    lines.append("")
    return "\n".join(lines)
