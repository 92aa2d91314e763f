"""The report per dataset: clips.tsv's dataset and role, summary.tsv's rows per training and
evaluation dataset with the drop from in-corpus val, classes a dataset lacks (UAR over its own
classes, "absent" confusion rows), summary.md's dataset and cross-corpus sections, the confusion
PNG's cross-corpus panels, and the model card of a pooled run with cross-corpus rows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from snakemake.iocontainers import Namedlist

import avemotion.report
import avemotion.report.table
from avemotion.artifacts import read_tsv, write_predictions, write_tsv
from avemotion.bundle import model_card
from avemotion.constants import CLASSES
from avemotion.fusion import run_fusion
from avemotion.report import (
    EvaluationInputs,
    ReportInputs,
    ReportOutputs,
    build_report,
    confusion_panels,
    read_report_table,
    score_datasets,
    score_models,
)

MODELS = ("audio_svm", "vgg_lstm_a")
STAGES = ("media",)
NOISY_MAPPING = "noisy: labels used as given; it has no surprise clips."


def _probs(predicted: str) -> np.ndarray:
    probs = np.full(len(CLASSES), 0.05)
    probs[CLASSES.index(predicted)] = 0.7
    return probs


def _write_clip_set(folder: Path, clips: list[tuple[str, str, str, str]],
                    predicted: dict[str, dict[str, str | None]], quarantined: list[dict[str, str]],
                    predicted_splits: tuple[str, ...]) -> dict[str, Path]:
    """manifest.tsv (clip_id, dataset, split, label, path), quarantine.tsv (with its dataset column),
    media/index.tsv and predictions/{model}.tsv of the clips of `predicted_splits`: a class, or None
    for a clip the model could not see. `predicted[model]` lacks a clip: the model predicts its label."""
    write_tsv(folder / "manifest.tsv", ("clip_id", "dataset", "split", "label", "path"),
              [{"clip_id": c, "dataset": d, "split": s, "label": label, "path": f"{c}.mp4"} for c, d, s, label in clips])
    write_tsv(folder / "quarantine.tsv", ("clip_id", "path", "stage", "reason", "split", "dataset"), quarantined)
    write_tsv(folder / "media" / "index.tsv", ("clip_id", "status", "reason"),
              [{"clip_id": c, "status": "ok", "reason": ""} for c, *_ in clips])
    paths = {}
    for model, by_clip in predicted.items():
        rows = []
        for clip_id, _, split, label in clips:
            if split not in predicted_splits:
                continue
            cls = by_clip.get(clip_id, label)
            rows.append({"clip_id": clip_id, "split": split, "label": label,
                         "probs": None if cls is None else _probs(cls), "status": "ok" if cls else "quarantined",
                         "reason": "" if cls else f"clip {clip_id}: no face detected"})
        paths[model] = folder / "predictions" / f"{model}.tsv"
        write_predictions(paths[model], rows)
    return paths


def _training_clips(datasets: tuple[str, ...], dataset_cell: bool) -> list[tuple[str, str, str, str]]:
    """Per dataset: 7 train, 14 val and 7 test clips, every class in each split."""
    clips = []
    for dataset in datasets:
        for split, per_class in (("train", 1), ("val", 2), ("test", 1)):
            for k in range(per_class * len(CLASSES)):
                clips.append((f"{dataset}_{split}_{k:02d}", dataset if dataset_cell else "", split,
                              CLASSES[k % len(CLASSES)]))
    return clips


def _training_predictions(clips) -> dict[str, dict[str, str | None]]:
    """Each model misses a different third of the clips (it predicts the next class)."""
    return {model: {c: CLASSES[(CLASSES.index(label) + 1) % len(CLASSES)]
                    for k, (c, _, _, label) in enumerate(clips) if (k + m) % 3 == 0}
            for m, model in enumerate(MODELS)}


def _write_training(results: Path, datasets: tuple[str, ...], dataset_cell: bool) -> dict[str, Path]:
    clips = _training_clips(datasets, dataset_cell)
    quarantined = [{"clip_id": "broken_00", "path": "broken_00.mp4", "stage": "probe",
                    "reason": "clip broken_00: no video stream", "split": "val", "dataset": ""}]
    paths = _write_clip_set(results, clips, _training_predictions(clips), quarantined, ("val", "test"))
    run_fusion(paths, results / "fusion" / "weights.json", results / "predictions" / "fusion.tsv",
               results / "metrics" / "fusion.json", grid_step=0.5)
    return {**paths, "fusion": results / "predictions" / "fusion.tsv"}


# The evaluation dataset "noisy" has no SU clip: 3 AN, then 2 of each of DI FE HA NE SA, over all splits.
NOISY_LABELS = ["AN"] * 3 + [c for c in ("DI", "FE", "HA", "NE", "SA") for _ in range(2)]
NOISY_CLIPS = [(f"noisy_{k:02d}", "noisy", ("train", "val", "test")[k % 3], label)
               for k, label in enumerate(NOISY_LABELS)]
# audio_svm: AN 3/3, DI 1/2, FE 0/2, HA 2/2, NE 1/2, SA 2/2 right: accuracy 9/13, UAR (1+.5+0+1+.5+1)/6
NOISY_AUDIO_SVM = {"noisy_03": "AN", "noisy_05": "HA", "noisy_06": "SU", "noisy_10": "SA"}
NOISY_AUDIO_SVM_ACCURACY, NOISY_AUDIO_SVM_UAR = 9 / 13, 4 / 6
# the fusion: every clip right but the two FE clips, taken for SU (a class the dataset lacks)
NOISY_FUSION = {"noisy_05": "SU", "noisy_06": "SU"}


def _write_evaluation(results: Path) -> EvaluationInputs:
    folder = results / "evaluate" / "noisy"
    quarantined = [{"clip_id": "noisy_bad", "path": "noisy_bad.mp4", "stage": "probe",
                    "reason": "clip noisy_bad: no video stream", "split": "test", "dataset": "noisy"}]
    predicted = {"audio_svm": NOISY_AUDIO_SVM, "vgg_lstm_a": {"noisy_00": None}, "fusion": NOISY_FUSION}
    paths = _write_clip_set(folder, NOISY_CLIPS, predicted, quarantined, ("train", "val", "test"))
    return EvaluationInputs(manifest=folder / "manifest.tsv", quarantine=folder / "quarantine.tsv", predictions=paths,
                            stage_indices={"media": folder / "media" / "index.tsv"})


def _dataset(name: str, role: str, kind: str = "list", mapping: str = "") -> dict[str, str]:
    return {"name": name, "kind": kind, "role": role, "path": f"/data/{name}", "label_mapping": mapping}


def _build(results: Path, paths, *, datasets=(), evaluations=None, pngs=True, seed=0) -> ReportInputs:
    report = results / "report"
    inputs = ReportInputs(predictions=paths, weights=results / "fusion" / "weights.json",
                          manifest=results / "manifest.tsv", quarantine=results / "quarantine.tsv",
                          stage_indices={"media": results / "media" / "index.tsv"}, bootstrap_samples=300,
                          seed=seed, datasets=datasets, evaluations=evaluations or {})
    outputs = ReportOutputs(summary_md=report / "summary.md", summary_tsv=report / "summary.tsv",
                            clips_tsv=report / "clips.tsv",
                            confusion_pngs={m: report / f"confusion_{m}.png" for m in paths} if pngs else {})
    build_report(inputs, outputs)
    return inputs


@pytest.fixture(scope="module")
def cross_corpus_run(tmp_path_factory) -> tuple[Path, ReportInputs]:
    """One training dataset (afew: its manifest's dataset cells empty) and the evaluation dataset noisy."""
    results = tmp_path_factory.mktemp("cross_corpus") / "results"
    paths = _write_training(results, ("afew",), dataset_cell=False)
    datasets = (_dataset("afew", "train", kind="afew", mapping="AFEW: the seven classes as labelled."),
                _dataset("noisy", "evaluate", mapping=NOISY_MAPPING))
    inputs = _build(results, paths, datasets=datasets, evaluations={"noisy": _write_evaluation(results)})
    return results / "report", inputs


def _summary(report: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    return {(row["dataset"], row["model"], row["split"]): row for row in read_tsv(report / "summary.tsv")}


def test_clips_tsv_lists_every_clip_with_its_dataset_and_role(cross_corpus_run):
    report, _ = cross_corpus_run
    rows = read_tsv(report / "clips.tsv")
    assert list(rows[0])[:6] == ["clip_id", "dataset", "role", "split", "label", "path"]
    assert len(rows) == 28 + 1 + 13 + 1  # training manifest + quarantine, then the evaluation dataset's
    assert [row["role"] for row in rows] == ["train"] * 29 + ["evaluate"] * 14
    clips = {row["clip_id"]: row for row in rows}
    # empty dataset cells of the training manifest: the run's one training dataset
    assert clips["afew_train_00"]["dataset"] == "afew" and clips["broken_00"]["dataset"] == "afew"
    assert clips["afew_train_00"]["fusion_status"] == "n/a"
    evaluation_train_clip = clips["noisy_03"]  # split train: nothing was trained on it, so it is predicted
    assert evaluation_train_clip["split"] == "train" and evaluation_train_clip["dataset"] == "noisy"
    assert evaluation_train_clip["media_status"] == "done"
    assert evaluation_train_clip["audio_svm_status"] == "done" and evaluation_train_clip["audio_svm_predicted"] == "AN"
    assert evaluation_train_clip["fusion_status"] == "done" and evaluation_train_clip["fusion_predicted"] == "DI"
    assert clips["noisy_00"]["vgg_lstm_a_status"] == "quarantined"
    assert clips["noisy_00"]["vgg_lstm_a_predicted"] == "no prediction"
    assert clips["noisy_bad"]["probe_status"] == "quarantined" and clips["noisy_bad"]["fusion_status"] == "skipped"


def test_summary_tsv_scores_the_evaluation_dataset_over_its_own_classes(cross_corpus_run):
    report, _ = cross_corpus_run
    summary = _summary(report)
    models = (*MODELS, "fusion")
    assert set(summary) == {("afew", m, s) for m in models for s in ("val", "test")} | {
        ("noisy", m, "all") for m in models}
    assert {row["role"] for key, row in summary.items() if key[0] == "noisy"} == {"evaluate"}
    assert {row["role"] for key, row in summary.items() if key[0] == "afew"} == {"train"}
    audio_svm = summary[("noisy", "audio_svm", "all")]
    assert int(audio_svm["n"]) == 13  # every split's labelled clips
    assert float(audio_svm["accuracy"]) == pytest.approx(NOISY_AUDIO_SVM_ACCURACY)
    assert float(audio_svm["uar"]) == pytest.approx(NOISY_AUDIO_SVM_UAR)  # 6 classes, not 7
    fusion = summary[("noisy", "fusion", "all")]
    assert float(fusion["uar"]) == pytest.approx(5 / 6) and float(fusion["accuracy"]) == pytest.approx(11 / 13)
    assert int(summary[("noisy", "vgg_lstm_a", "all")]["n_no_prediction"]) == 1
    assert summary[("noisy", "fusion", "all")]["paper_accuracy"] == ""


def test_the_drop_is_in_corpus_val_minus_cross_corpus_with_its_interval(cross_corpus_run):
    report, _ = cross_corpus_run
    summary = _summary(report)
    for model in (*MODELS, "fusion"):
        val, cross = summary[("afew", model, "val")], summary[("noisy", model, "all")]
        for metric in ("accuracy", "uar"):
            drop = float(cross[f"drop_{metric}"])
            assert drop == pytest.approx(float(val[metric]) - float(cross[metric]))
            assert float(cross[f"drop_{metric}_low"]) <= drop <= float(cross[f"drop_{metric}_high"])
            assert float(cross[f"drop_{metric}_low"]) < float(cross[f"drop_{metric}_high"])
        for split in ("val", "test"):
            assert all(summary[("afew", model, split)][column] == "" for column in avemotion.report.DROP_COLUMNS)


def test_summary_md_datasets_and_cross_corpus_sections(cross_corpus_run):
    report, _ = cross_corpus_run
    markdown = (report / "summary.md").read_text()
    datasets = markdown.split("## Datasets")[1].split("\n## ")[0]
    assert "| afew | afew | train | `/data/afew` | 28 | 1 | AN DI FE HA NE SA SU | none |" in datasets
    assert "| noisy | list | evaluate | `/data/noisy` | 13 | 1 | AN DI FE HA NE SA | SU |" in datasets
    assert f"- **noisy**: {NOISY_MAPPING}" in datasets
    cross = markdown.split("## Cross-corpus: noisy")[1].split("\n## ")[0]
    assert "Classes present: AN DI FE HA NE SA; absent: SU (its UAR averages its 6 classes)." in cross
    assert "(13 clips: train 5, val 4, test 4; 13 labelled and scored; 1 quarantined before the models)" in cross
    audio_svm_row = next(line for line in cross.splitlines() if line.startswith("| audio_svm |"))
    assert f"| 13 | {100 * NOISY_AUDIO_SVM_ACCURACY:.2f} [" in audio_svm_row
    fused = cross.split("### noisy: fusion, all splits")[1].split("###")[0]
    assert "| **SU** | absent | absent | absent | absent | absent | absent | absent | absent |" in fused
    assert "| **FE** | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 100.00 | 0.00 |" in fused
    assert "### noisy: clips per stage" in cross and "| probe | 13 | 1 | 0 | 0 | 0 |" in cross
    # every class is in afew's val split: no absent row there
    assert "absent" not in markdown.split("## Confusion matrices")[1].split("## Cross-corpus")[0]
    assert markdown.index("## Datasets") < markdown.index("## All models side by side") < markdown.index(
        "## Cross-corpus: noisy") < markdown.index("## Clips per stage")
    # the training data's clips per stage count only its own clips
    assert "29 input clips" in markdown.split("## Clips per stage")[1]


def test_confusion_png_adds_a_cross_corpus_panel_with_the_absent_row(cross_corpus_run, tmp_path):
    report, inputs = cross_corpus_run
    table = read_report_table(inputs)
    scores = score_models(table, n_resamples=20, seed=0)
    noisy = score_datasets(table, scores, n_resamples=20, seed=0)[-1]
    panels = confusion_panels("audio_svm", list(scores["audio_svm"].values()),
                              [("noisy", noisy.scores["audio_svm"]["all"])])
    assert len(panels) == 2 + 1 + 1  # val, test, paper Table 3, noisy
    assert panels[-1].title.startswith("noisy (cross-corpus), all splits (n=13, 0 without prediction)")
    assert panels[-1].absent_rows == (CLASSES.index("SU"),) and panels[0].absent_rows == ()
    with_panel = imread(report / "confusion_audio_svm.png")
    results = tmp_path / "training_only" / "results"
    _build(results, _write_training(results, ("afew",), dataset_cell=False))
    without_panel = imread(results / "report" / "confusion_audio_svm.png")
    assert with_panel.shape[1] > without_panel.shape[1] * 1.2


def test_every_evaluation_file_is_read_once(tmp_path, report_reads):
    results = tmp_path / "results"
    paths = _write_training(results, ("afew",), dataset_cell=False)
    evaluation = _write_evaluation(results)
    _build(results, paths, evaluations={"noisy": evaluation}, pngs=False)
    evaluation_files = {Path(evaluation.manifest), Path(evaluation.quarantine), *map(Path, evaluation.predictions.values()),
                        *map(Path, evaluation.stage_indices.values())}
    assert evaluation_files <= set(report_reads) and all(report_reads[path] == 1 for path in evaluation_files)
    assert set(report_reads.values()) == {1}


def test_pooled_training_scores_each_training_dataset_on_its_own_clips(tmp_path):
    results = tmp_path / "results"
    paths = _write_training(results, ("ravdess", "cremad"), dataset_cell=True)
    datasets = (_dataset("ravdess", "train", kind="ravdess"), _dataset("cremad", "train", kind="cremad"))
    _build(results, paths, datasets=datasets, pngs=False)
    summary = _summary(results / "report")
    assert {key[0] for key in summary} == {"ravdess+cremad", "ravdess", "cremad"}
    for model in (*MODELS, "fusion"):
        for split in ("val", "test"):
            pooled = summary[("ravdess+cremad", model, split)]
            parts = [summary[(dataset, model, split)] for dataset in ("ravdess", "cremad")]
            assert [int(part["n"]) for part in parts] == [int(pooled["n"]) // 2] * 2
            correct = sum(int(part["n"]) * float(part["accuracy"]) for part in parts)
            assert correct == pytest.approx(int(pooled["n"]) * float(pooled["accuracy"]))
            assert {part["role"] for part in parts} == {"train"} and parts[0]["drop_uar"] == ""
    markdown = (results / "report" / "summary.md").read_text()
    section = markdown.split("## Per training dataset")[1].split("\n## ")[0]
    assert section.count("| ravdess |") == 3 and section.count("| cremad |") == 3  # two models and the fusion
    assert "### fusion, ravdess val" in section and "### fusion, cremad val" in section
    assert "Cross-corpus" not in markdown


def test_one_training_dataset_without_evaluations_adds_no_section(tmp_path):
    results = tmp_path / "results"
    paths = _write_training(results, ("demo",), dataset_cell=True)
    _build(results, paths, pngs=False)
    markdown = (results / "report" / "summary.md").read_text()
    for heading in ("## Datasets", "## Per training dataset", "## Cross-corpus"):
        assert heading not in markdown
    summary = read_tsv(results / "report" / "summary.tsv")
    assert {(row["dataset"], row["role"]) for row in summary} == {("demo", "train")}  # named by the manifest
    assert all(row[column] == "" for row in summary for column in avemotion.report.DROP_COLUMNS)


def test_model_card_of_a_pooled_run_with_cross_corpus_rows(cross_corpus_run):
    report, _ = cross_corpus_run
    rows = read_tsv(report / "summary.tsv")
    config = {"dataset": [{"kind": "ravdess", "name": "ravdess", "path": "/data/RAVDESS"},
                          {"kind": "list", "name": "mine", "path": "clips.csv"}],
              "splits": {"train": {"AN": 2}}, "fusion": {"weights": {"audio_svm": 1.0}}}
    card = model_card(config, rows, ())
    assert "Training datasets (pooled): `ravdess` (/data/RAVDESS), `mine` (list, clips.csv)." in card
    metrics = card.split("## Metrics")[1].split("\n## ")[0]
    assert "| afew | fusion | val | 14 |" in metrics and "noisy" not in metrics
    cross = card.split("## Cross-corpus metrics")[1].split("\n## ")[0]
    fusion = next(row for row in rows if row["dataset"] == "noisy" and row["model"] == "fusion")
    drop = f"{100 * float(fusion['drop_accuracy']):+.1f} [{100 * float(fusion['drop_accuracy_low']):+.1f}, "
    assert f"| noisy | fusion | 13 | {100 * 11 / 13:.1f} [" in cross and drop in cross
    assert "measured on other corpora only as \"Cross-corpus metrics\" shows (noisy)" in card
    assert "not an emotion recogniser for real faces" not in card


def test_model_card_of_one_dataset_without_cross_corpus_rows(tmp_path):
    results = tmp_path / "results"
    _build(results, _write_training(results, ("demo",), dataset_cell=True), pngs=False)
    card = model_card({"dataset": {"kind": "demo", "name": "demo"}}, read_tsv(results / "report" / "summary.tsv"), ())
    assert "Training dataset: `demo`. Clips per split and label:" in card
    assert "| demo | fusion | test | 7 |" in card
    assert "## Cross-corpus metrics" not in card and "not an emotion recogniser for real faces" in card
    assert "(other corpora, cultures, cameras, spontaneous emotion) are unknown until measured" in card


def test_inputs_from_the_rule_with_datasets_and_evaluations():
    evaluation = {"manifest": "e/manifest.tsv", "quarantine": "e/quarantine.tsv",
                  "predictions": {"vgg_lstm_a": "e/a.tsv", "fusion": "e/fusion.tsv"},
                  "stage_indices": {"media": "e/media.tsv"}}
    datasets = [_dataset("afew", "train", kind="afew"), _dataset("e", "evaluate")]
    job = Namedlist(fromdict={
        "input": Namedlist(fromdict={"predictions": ["a.tsv", "fusion.tsv"], "weights": "weights.json",
                                     "manifest": "manifest.tsv", "quarantine": "quarantine.tsv"}),
        "params": Namedlist(fromdict={"report": {"bootstrap_samples": 30, "seed": 4},
                                      "models": ["vgg_lstm_a", "fusion"], "vgg_lstm_init": None,
                                      "paper_deviations": [], "datasets": datasets, "evaluations": {"e": evaluation}}),
    })
    inputs = ReportInputs.from_snakemake(job)
    assert inputs.datasets == tuple(datasets)
    assert inputs.evaluations == {"e": EvaluationInputs(
        manifest="e/manifest.tsv", quarantine="e/quarantine.tsv",
        predictions={"vgg_lstm_a": "e/a.tsv", "fusion": "e/fusion.tsv"}, stage_indices={"media": "e/media.tsv"})}
