"""MODEL_CARD.md: the trained network's data, metrics, differences from the paper, use and limits."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..config import training_datasets


def model_card(config: Mapping, summary_rows: Sequence[Mapping[str, str]], paper_deviations: Sequence[str]) -> str:
    """MODEL_CARD.md: what the network was trained on, how well it did (in-corpus, and on the datasets
    it was never trained on where the run measured them), how it differs from the paper, what it is
    for and what it is not. `config["dataset"]` is one dataset's settings or a list of them (pooled
    training)."""
    datasets = training_datasets(config)
    in_corpus = [row for row in summary_rows if row.get("role", "train") != "evaluate"]
    cross_corpus = [row for row in summary_rows if row.get("role") == "evaluate"]
    lines = ["# avemotion hybrid audio-video emotion network", "",
             "Seven classes (Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise) from a video clip's faces and "
             "audio: two VGG16-LSTMs on two face tracks, an SVM on openSMILE IS10 functionals, an LSTM on "
             "short-term audio features and an Inception-LSTM on audio maps, fused with weights chosen on the "
             "validation split (Hybrid audio-video emotion recognition, EmotiW 2017).", "",
             "## Data", "", _training_data_sentence(datasets) + " Clips per split and label:", "",
             "| split | clips | per label |", "|---|---|---|"]
    for split, labels in config.get("splits", {}).items():
        per_label = ", ".join(f"{label} {count}" for label, count in sorted(labels.items()))
        lines.append(f"| {split} | {sum(labels.values())} | {per_label} |")
    fusion = config.get("fusion", {})
    lines += ["", "## Fusion", "", "Weights (chosen on val" + (", models refit on train+val" if fusion.get("refit")
                                                               else "") + "): "
              + ", ".join(f"{model} {weight:g}" for model, weight in fusion.get("weights", {}).items()) + ".", ""]
    lines += ["## Metrics", "", "From the run's report (`results/report/summary.tsv`): accuracy and unweighted average "
              "recall in %, with 95 % bootstrap intervals over the clips; the paper's values where it gives them.", "",
              "| dataset | model | split | clips | accuracy | UAR | paper accuracy | paper UAR |",
              "|---|---|---|---|---|---|---|---|"]
    for row in in_corpus:
        lines.append(f"| {row.get('dataset') or '-'} | {row['model']} | {row['split']} | {row['n']} | "
                     f"{_interval(row, 'accuracy')} | {_interval(row, 'uar')} | {_percent(row.get('paper_accuracy'))} | "
                     f"{_percent(row.get('paper_uar'))} |")
    if cross_corpus:
        lines += ["", "## Cross-corpus metrics", "",
                  "Measured on datasets it was never trained on (all their labelled clips, every split): accuracy "
                  "and UAR in % with 95 % bootstrap intervals, and the drop from the same model's in-corpus val "
                  "score in points (95 % bootstrap interval, the two clip sets resampled independently). A "
                  "dataset's UAR averages the classes it has.", "",
                  "| dataset | model | clips | accuracy | UAR | accuracy drop | UAR drop |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {row.get('dataset') or '-'} | {row['model']} | {row['n']} | {_interval(row, 'accuracy')} | "
                  f"{_interval(row, 'uar')} | {_drop(row, 'accuracy')} | {_drop(row, 'uar')} |" for row in cross_corpus]
    lines += ["", "## Settings that differ from the paper", ""]
    lines += [f"- {deviation}" for deviation in paper_deviations] or ["- none"]
    lines += ["", "## Intended use", "",
              "Research on audio-video emotion recognition: predicting one of the seven classes for clips like "
              "the training clips (`avemotion predict --bundle model.zip CLIP...`), and comparing with the "
              "paper's results.", "", "## Limits", ""]
    if any(dataset.get("kind") == "demo" for dataset in datasets):
        lines.append("- Trained on avemotion's synthetic demo corpus (still photos animated per emotion, with "
                     "synthesized voices): it is not an emotion recogniser for real faces or voices.")
    if cross_corpus:
        measured = ", ".join(dict.fromkeys(row.get("dataset") or "-" for row in cross_corpus))
        lines.append(f"- Seven acted or film emotions as labelled in the training data; measured on other corpora "
                     f"only as \"Cross-corpus metrics\" shows ({measured}); scores on other recordings (cultures, "
                     "cameras, spontaneous emotion) are unknown until measured.")
    else:
        lines.append("- Seven acted or film emotions as labelled in the training dataset; scores on other recordings "
                     "(other corpora, cultures, cameras, spontaneous emotion) are unknown until measured.")
    lines += ["- Not for decisions about people: emotion labels of faces and voices are neither reliable nor "
              "neutral enough for that.", ""]
    return "\n".join(lines)


def _dataset_phrase(dataset: Mapping[str, Any]) -> str:
    """`name` (kind, path), leaving out a kind equal to the name and an empty path."""
    kind, name = dataset["kind"], dataset["name"]
    details = ([] if name == kind else [str(kind)]) + ([str(dataset["path"])] if dataset.get("path") else [])
    return f"`{name}`" + (f" ({', '.join(details)})" if details else "")


def _training_data_sentence(datasets: Sequence[Mapping[str, Any]]) -> str:
    if len(datasets) == 1:
        return f"Training dataset: {_dataset_phrase(datasets[0])}."
    return f"Training datasets (pooled): {', '.join(_dataset_phrase(dataset) for dataset in datasets)}."


def _percent(fraction: str | None) -> str:
    return f"{100 * float(fraction):.1f}" if fraction not in (None, "") else "-"


def _interval(row: Mapping[str, str], metric: str) -> str:
    if row.get(metric) in (None, ""):
        return "-"
    return f"{_percent(row[metric])} [{_percent(row.get(f'{metric}_low'))}, {_percent(row.get(f'{metric}_high'))}]"


def _drop(row: Mapping[str, str], metric: str) -> str:
    """The drop from in-corpus val in points, signed, with its interval; "-" where the row has none."""
    value = row.get(f"drop_{metric}")
    if value in (None, ""):
        return "-"
    low, high = (row.get(f"drop_{metric}_{end}") for end in ("low", "high"))
    return f"{100 * float(value):+.1f} [{_signed_points(low)}, {_signed_points(high)}]"


def _signed_points(fraction: str | None) -> str:
    return f"{100 * float(fraction):+.1f}" if fraction not in (None, "") else "-"
