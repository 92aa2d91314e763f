"""summary.md (`summary_markdown`), its sections in reading order. When the VGG-LSTMs were not
initialised as in the paper (no VGG-Face weights, no FER-2013 step (a)), it says so first.

Unlabelled clips (AFEW's Test_AFEW/) are predicted but never scored: summary.md counts, per split,
the clips, the labelled (scored) ones and the unlabelled (predicted only) ones, and lists the EmotiW
submission (`avemotion.submission`: the fused test predictions, class counts, clips without one).
Each evaluation dataset gets a cross-corpus section: its scores, the drop from in-corpus val, its
confusion matrices and its clips per stage."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..artifacts import STATUS_QUARANTINED
from ..constants import BOOTSTRAP_CONFIDENCE, CHALLENGE_BASELINE_VAL_ACCURACY, CLASSES, FUSION, PAPER_CONFUSION_TABLE
from ..fusion import align_predictions, fuse_probabilities, fused_classes
from ..metrics import bootstrap_difference_intervals, label_indices
from ..submission import SUBMISSION_SPLIT, class_counts
from .clips import CLIP_STATUSES, ClipStatus, SplitCounts, clip_set_statuses, split_counts
from .markdown import (
    confusion_markdown,
    markdown_table,
    model_cell,
    paper_cell,
    percent,
    points_with_interval,
    scores_cells,
    scores_sentence,
    with_interval,
)
from .scores import ABSENT, DatasetScores, SplitScores, paper_confusion, paper_scores
from .table import (
    EVALUATION_SPLIT,
    REPORT_SPLITS,
    ROLE_EVALUATE,
    ROLE_TRAIN,
    EvaluationTable,
    Prediction,
    ReportClip,
    ReportInputs,
    ReportTable,
    SubmissionTable,
)

MAX_LISTED_QUARANTINED = 50


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


def datasets_section(table: ReportTable) -> list[str]:
    """Each dataset of the run: kind, role, path, clips, the classes it has and lacks, its label mapping."""
    rows = []
    for dataset in table.datasets:
        clips = dataset_clips(table, dataset)
        n_quarantined = sum(1 for clip in clips if clip.quarantined_at)
        present = present_classes(clips)
        absent = classes_absent(present)
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


def present_classes(clips: Sequence[ReportClip]) -> tuple[str, ...]:
    """The classes with at least one labelled clip among the manifest's `clips`, in CLASSES order."""
    labels = {clip.label for clip in clips if not clip.quarantined_at and clip.label}
    return tuple(c for c in CLASSES if c in labels)


def classes_absent(present: Sequence[str]) -> list[str]:
    """The classes not in `present`, in CLASSES order."""
    return [c for c in CLASSES if c not in present]


def dataset_clips(table: ReportTable, dataset: Mapping[str, str]) -> tuple[ReportClip, ...]:
    """A dataset's clips: an evaluation dataset's whole clip set, a training dataset's share of the
    training data."""
    if dataset.get("role") == ROLE_EVALUATE:
        evaluation = table.evaluations.get(dataset["name"])
        return () if evaluation is None else evaluation.clips
    return tuple(clip for clip in table.clips if clip.dataset == dataset["name"])


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


def models_section(scores: Mapping[str, Mapping[str, SplitScores]]) -> list[str]:
    """All models side by side, ours beside the paper's, on val and test."""
    header = ["model",
              "val n (scored)", "val accuracy [95 % CI]", "val UAR [95 % CI]", "paper val acc", "paper val UAR",
              "test n (scored)", "test accuracy [95 % CI]", "test UAR [95 % CI]", "paper test acc", "paper test UAR",
              "no prediction (val / test)"]
    rows = []
    for model, by_split in scores.items():
        row: list[object] = [model_cell(model)]
        for split in REPORT_SPLITS:
            paper_accuracy, paper_uar = paper_scores(model, split)
            row += [*scores_cells(by_split.get(split)), paper_cell(paper_accuracy), paper_cell(paper_uar)]
        row.append(" / ".join(str(by_split[split].n_no_prediction) if split in by_split else "–"
                              for split in REPORT_SPLITS))
        rows.append(row)
    return ["## All models side by side", "", markdown_table(header, rows), ""]


def training_datasets_section(groups: Sequence[DatasetScores]) -> list[str]:
    """With several training datasets: every model on each one's own val and test clips, and the
    fused val confusion of each."""
    header = ["dataset", "model", "val n (scored)", "val accuracy [95 % CI]", "val UAR [95 % CI]",
              "test n (scored)", "test accuracy [95 % CI]", "test UAR [95 % CI]"]
    rows = []
    for group in groups:
        for model, by_split in group.scores.items():
            row: list[object] = [group.dataset, model_cell(model)]
            for split in REPORT_SPLITS:
                row += scores_cells(by_split.get(split))
            rows.append(row)
    lines = ["## Per training dataset", "",
             "The models trained on the pooled datasets, scored on each dataset's own val and test clips.", "",
             markdown_table(header, rows), ""]
    for group in groups:
        fused_val = group.scores.get(FUSION, {}).get("val")
        if fused_val is not None:
            lines += [f"### {FUSION}, {group.dataset} val", "", scores_sentence(fused_val), "",
                      confusion_markdown(fused_val.confusion_percent, None, fused_val.absent_classes), ""]
    return lines


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
        rows.append([metric, percent(equal[metric]), percent(grid[metric]),
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
                       f"accuracy {with_interval(s.accuracy, s.accuracy_interval)} %, "
                       f"UAR {with_interval(s.uar, s.uar_interval)} %")
            if paper_accuracy is not None:
                summary += f"; paper: accuracy {paper_accuracy:.2f} %"
                summary += f", UAR {paper_uar:.2f} %" if paper_uar is not None else ""
            lines += [summary, "", confusion_markdown(s.confusion_percent, paper, s.absent_classes), ""]
        if not by_split:
            lines += [f"### {model}", "", "No labelled val or test clips.", ""]
    return lines


def cross_corpus_section(evaluation: EvaluationTable, group: DatasetScores,
                         in_corpus: Mapping[str, Mapping[str, SplitScores]], *, training_label: str) -> list[str]:
    """One evaluation dataset: every model's scores over all its labelled clips, the drop from its
    in-corpus val score, the confusion matrices and the clips per stage."""
    manifest_clips = [clip for clip in evaluation.clips if not clip.quarantined_at]
    per_split = ", ".join(f"{split} {count}" for split, count in _split_sizes(manifest_clips).items())
    n_labelled = sum(1 for clip in manifest_clips if clip.label)
    present = present_classes(evaluation.clips)
    absent = classes_absent(present)
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
        rows.append([model_cell(model), *scores_cells(cross),
                     "–" if val is None else percent(val.accuracy), "–" if val is None else percent(val.uar),
                     "–" if drop is None else points_with_interval(drop.accuracy, drop.accuracy_interval),
                     "–" if drop is None else points_with_interval(drop.uar, drop.uar_interval),
                     "–" if cross is None else cross.n_no_prediction])
    lines += [markdown_table(header, rows), ""]
    for model, by_split in group.scores.items():
        cross = by_split.get(EVALUATION_SPLIT)
        if cross is not None:
            lines += [f"### {evaluation.name}: {model}, all splits (percent of the true class)", "",
                      scores_sentence(cross), "",
                      confusion_markdown(cross.confusion_percent, None, cross.absent_classes), ""]
    statuses = clip_set_statuses(evaluation.clips, stages=evaluation.stages, models=evaluation.models)
    lines += [f"### {evaluation.name}: clips per stage", ""]
    return lines + stage_counts_lines(statuses, stage_names=evaluation.stage_names)


def _split_sizes(clips: Sequence[ReportClip]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for clip in clips:
        sizes[clip.split or "no split"] = sizes.get(clip.split or "no split", 0) + 1
    return sizes


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
