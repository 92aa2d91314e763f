"""The results report (paper section 3.2, Tables 1-6): per model and fused, accuracy and UAR with
bootstrap 95 % intervals, confusion matrices in percent beside the paper's, the fusion weights and
their gain over equal weights, and every input clip's status per stage.

A clip a model could not see has no prediction (`avemotion.metrics`): it is scored as wrong, and our
confusion matrices are 7 x 8, the last column counting those clips; the paper's tables are 7 x 7.
Unlabelled clips (AFEW's Test_AFEW/) are predicted but never scored. Scores are reported per dataset:
the whole training manifest, each training dataset when there are several, and each evaluation
dataset (never trained on) over all its labelled clips, beside the drop from in-corpus val.

`build_report` reads the run's files once into a `ReportTable` and derives every file from it:
`summary.md`, `summary.tsv` (the side-by-side table), `clips.tsv`, `confusion_{model}.png`.

- `table`: the inputs and outputs (`ReportInputs`, `EvaluationInputs`, `ReportOutputs`), the clips,
  predictions and stage rows read into the `ReportTable` (`read_report_table`).
- `scores`: each model's scores per split and per dataset, the paper's values, the cross-corpus drop,
  the rows of summary.tsv.
- `clips`: each clip's status per stage (clips.tsv) and the clips per predicted split.
- `markdown`: markdown tables, confusion matrices and the percent and interval formatters.
- `figures`: the confusion PNGs.
- `summary`: summary.md's sections, the deviation from the paper's initialisation first.
"""
from __future__ import annotations

from ..artifacts import atomic_output, write_tsv
from .clips import clip_statuses, clips_tsv_columns, split_counts
from .figures import confusion_panels, plot_confusions
from .scores import DROP_COLUMNS, SUMMARY_COLUMNS, SplitScores, score_datasets, score_models, summary_tsv_rows
from .summary import summary_markdown, vgg_lstm_deviation
from .table import (
    EVALUATION_SPLIT,
    EvaluationInputs,
    ReportClip,
    ReportInputs,
    ReportOutputs,
    ReportTable,
    read_report_table,
)

__all__ = [
    "DROP_COLUMNS", "SUMMARY_COLUMNS", "EvaluationInputs", "ReportClip", "ReportInputs", "ReportOutputs",
    "ReportTable", "SplitScores", "build_report", "clip_statuses", "clips_tsv_columns", "confusion_panels",
    "read_report_table", "score_datasets", "score_models", "split_counts", "summary_markdown",
    "vgg_lstm_deviation",
]


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
