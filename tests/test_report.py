"""Report (paper 3.2, Tables 1-6): metric math by hand, bootstrap intervals, report files (each input
read once), the rule's inputs, and the report of the shared demo run."""
from __future__ import annotations

import json

import numpy as np
import pytest
from snakemake.iocontainers import Namedlist

from avemotion.artifacts import read_tsv, write_predictions, write_tsv
from avemotion.constants import CLASSES, PAPER_CONFUSION_PERCENT
from avemotion.fusion import run_fusion
from avemotion.metrics import (
    accuracy,
    bootstrap_confidence_intervals,
    bootstrap_difference_intervals,
    confusion_matrix,
    confusion_percent,
    per_class_recall,
    unweighted_average_recall,
)
from avemotion.report import (
    ReportInputs,
    ReportOutputs,
    build_report,
    clip_statuses,
    clips_tsv_columns,
    read_report_table,
    vgg_lstm_deviation,
)
from avemotion.submission import build_submission

MODELS = ("vgg_lstm_a", "vgg_lstm_b", "audio_svm", "audio_lstm", "inception_lstm")


def test_confusion_accuracy_uar_by_hand():
    # true:      AN AN AN DI DI HA   (SU never occurs)
    # predicted: AN AN DI DI HA HA
    true = np.array([0, 0, 0, 1, 1, 3])
    predicted = np.array([0, 0, 1, 1, 3, 3])
    confusion = confusion_matrix(true, predicted)
    assert confusion[0].tolist() == [2, 1, 0, 0, 0, 0, 0, 0]  # last column: no prediction
    assert confusion[1].tolist() == [0, 1, 0, 1, 0, 0, 0, 0]
    assert confusion[3].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert confusion.sum() == 6
    assert accuracy(confusion) == pytest.approx(4 / 6)
    # recalls: AN 2/3, DI 1/2, HA 1/1; absent classes do not count.
    assert np.isnan(per_class_recall(confusion)[6])
    assert unweighted_average_recall(confusion) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    percent = confusion_percent(confusion)
    assert percent[0].tolist()[:2] == pytest.approx([200 / 3, 100 / 3])
    assert percent[6].sum() == 0


def test_bootstrap_interval_contains_estimate_and_narrows_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (50, 800):
        true = rng.integers(0, 7, n)
        predicted = np.where(rng.random(n) < 0.6, true, (true + 1) % 7)
        confusion = confusion_matrix(true, predicted)
        intervals = bootstrap_confidence_intervals(true, predicted, n_resamples=1000, seed=1)
        low, high = intervals["accuracy"]
        assert low <= accuracy(confusion) <= high
        low_uar, high_uar = intervals["uar"]
        assert low_uar <= unweighted_average_recall(confusion) <= high_uar
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # width ~ 1/sqrt(n): 16x the clips, ~1/4 the width
    again = bootstrap_confidence_intervals(true, predicted, n_resamples=1000, seed=1)
    assert again == intervals  # seeded


def test_bootstrap_perfect_and_empty():
    true = np.arange(7)
    assert bootstrap_confidence_intervals(true, true, n_resamples=200)["accuracy"] == (1.0, 1.0)
    assert all(np.isnan(bootstrap_confidence_intervals(np.array([]), np.array([]))["uar"]))


def test_paired_difference_interval():
    rng = np.random.default_rng(3)
    true = rng.integers(0, 7, 300)
    better = np.where(rng.random(300) < 0.8, true, (true + 1) % 7)
    worse = np.where(rng.random(300) < 0.4, true, (true + 2) % 7)
    low, high = bootstrap_difference_intervals(true, better, worse, n_resamples=500)["accuracy"]
    assert 0 < low < (better == true).mean() - (worse == true).mean() < high
    same = bootstrap_difference_intervals(true, better, better, n_resamples=100)
    assert same["accuracy"] == (0.0, 0.0)


def _write_inputs(tmp_path):
    """A constructed results/ tree: manifest, quarantine, two stage indices, five models' predictions."""
    results = tmp_path / "results"
    rng = np.random.default_rng(0)
    clip_ids, splits, labels = [], [], []
    for split, count in (("train", 14), ("val", 28), ("test", 14)):
        for i in range(count):
            clip_ids.append(f"{split}_{i:02d}")
            splits.append(split)
            labels.append(CLASSES[i % 7])
    labels[-1] = ""  # unlabelled test clip
    write_tsv(results / "manifest.tsv", ("clip_id", "split", "label", "path", "has_audio"),
              [{"clip_id": c, "split": s, "label": l, "path": f"clips/{c}.mp4", "has_audio": "true"}
               for c, s, l in zip(clip_ids, splits, labels)])
    write_tsv(results / "quarantine.tsv", ("clip_id", "path", "stage", "reason"),
              [{"clip_id": "broken_00", "path": "clips/broken_00.mp4", "stage": "probe",
                "reason": "clip broken_00: no video stream"}])
    write_tsv(results / "media" / "index.tsv", ("clip_id", "n_timeline_frames"),
              [{"clip_id": c, "n_timeline_frames": 96} for c in clip_ids])
    write_tsv(results / "audio" / "index.tsv", ("clip_id", "status", "reason"),
              [{"clip_id": c, "status": "quarantined" if c == "val_03" else "ok",
                "reason": "clip val_03: audio shorter than 0.1 s" if c == "val_03" else ""}
               for c in clip_ids[:-2]])  # the last two clips are missing from this index
    scored = [i for i, s in enumerate(splits) if s != "train"]
    true = np.array([CLASSES.index(labels[i]) if labels[i] else 0 for i in scored])
    paths = {}
    for m, model in enumerate(MODELS):
        logits = rng.normal(size=(len(scored), 7))
        logits[np.arange(len(scored)), true] += 2.0 - 0.4 * m
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        rows = []
        for k, i in enumerate(scored):
            quarantined = model.startswith("audio") and clip_ids[i] == "val_03"
            rows.append({"clip_id": clip_ids[i], "split": splits[i], "label": labels[i],
                         "probs": None if quarantined else probs[k],
                         "status": "quarantined" if quarantined else "ok",
                         "reason": "clip val_03: audio shorter than 0.1 s" if quarantined else ""})
        paths[model] = results / "predictions" / f"{model}.tsv"
        write_predictions(paths[model], rows)
    run_fusion(paths, results / "fusion" / "weights.json", results / "predictions" / "fusion.tsv",
               results / "metrics" / "fusion.json", grid_step=0.1)
    paths["fusion"] = results / "predictions" / "fusion.tsv"
    return results, paths


PAPER_INIT = {"vgg_face_weights": "vgg_face.pth", "fer2013_csv": "fer2013.csv", "fer_iterations": 2000}


def _inputs(results, paths, **settings) -> ReportInputs:
    return ReportInputs(predictions=paths, weights=results / "fusion" / "weights.json",
                        manifest=results / "manifest.tsv", quarantine=results / "quarantine.tsv", **settings)


def _outputs(report, pngs=None) -> ReportOutputs:
    return ReportOutputs(summary_md=report / "summary.md", summary_tsv=report / "summary.tsv",
                         clips_tsv=report / "clips.tsv", confusion_pngs=pngs or {})


def _build(results, paths, vgg_lstm_init=PAPER_INIT):
    report = results / "report"
    pngs = {m: report / f"confusion_{m}.png" for m in paths}
    stages = {"media": results / "media" / "index.tsv", "audio": results / "audio" / "index.tsv"}
    inputs = _inputs(results, paths, stage_indices=stages, bootstrap_samples=200, seed=0, vgg_lstm_init=vgg_lstm_init)
    return report, pngs, build_report(inputs, _outputs(report, pngs))


def test_report_files_from_constructed_predictions(tmp_path):
    results, paths = _write_inputs(tmp_path)
    report, pngs, scores = _build(results, paths)
    for png in pngs.values():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (report / "summary.md").read_text()
    for model in paths:
        assert f"### {model}, val" in markdown
    assert "### fusion, test (paper Table 6 in parentheses)" in markdown
    # The paper's Table 1 AN row sits beside ours.
    assert f"({PAPER_CONFUSION_PERCENT['vgg_lstm_a'][0][0]:.2f})" in markdown
    assert "Gain of the grid-searched weights over equal weights" in markdown
    assert "broken_00" in markdown and "val_03" in markdown
    assert "Not the paper's experiment" not in markdown
    # Ours 7 x 8 (no-prediction column last), the paper's 7 x 7 beside our first seven columns.
    assert "| true \\ predicted | AN | DI | FE | HA | NE | SA | SU | no prediction |" in markdown
    assert "the paper's tables are 7 x 7" in markdown
    audio_svm_val = markdown.split("### audio_svm, val")[1].split("###")[0]
    assert "(1 without prediction)" in audio_svm_val
    assert audio_svm_val.count("| **") == 7 and all(line.count("|") == 10 for line in audio_svm_val.splitlines()
                                                  if line.startswith("| **"))

    fusion_metrics = json.loads((results / "metrics" / "fusion.json").read_text())
    assert scores["fusion"]["val"].accuracy == pytest.approx(fusion_metrics["val"]["accuracy"])
    assert scores["fusion"]["test"].n == 13  # one test clip is unlabelled
    summary = read_tsv(report / "summary.tsv")
    assert {(row["model"], row["split"]) for row in summary} == {(m, s) for m in paths for s in ("val", "test")}
    assert list(summary[0])[:3] == ["dataset", "role", "model"] and list(summary[0])[-1] == "drop_uar_high"
    assert {(row["role"], row["drop_accuracy"]) for row in summary} == {("train", "")}  # no evaluation dataset
    for row in summary:
        assert float(row["accuracy_low"]) <= float(row["accuracy"]) <= float(row["accuracy_high"])
    no_prediction = {(row["model"], row["split"]): int(row["n_no_prediction"]) for row in summary}
    assert no_prediction[("audio_svm", "val")] == 1 and no_prediction[("vgg_lstm_a", "val")] == 0
    assert no_prediction[("fusion", "val")] == 0  # the face models saw val_03
    assert scores["audio_svm"]["val"].confusion.shape == (7, 8)
    assert scores["audio_svm"]["val"].confusion[CLASSES.index("HA"), -1] == 1  # val_03 is HA: a miss

    clips = {row["clip_id"]: row for row in read_tsv(report / "clips.tsv")}
    assert len(clips) == 56 + 1  # every manifest clip plus the probe-quarantined one
    assert clips["broken_00"]["probe_status"] == "quarantined"
    assert clips["broken_00"]["fusion_status"] == "skipped"
    assert clips["val_03"]["audio_status"] == "quarantined" and "0.1 s" in clips["val_03"]["audio_reason"]
    assert clips["val_03"]["audio_svm_status"] == "quarantined"
    assert clips["val_03"]["audio_svm_predicted"] == "no prediction"
    assert clips["val_03"]["fusion_predicted"] in CLASSES and clips["train_00"]["fusion_predicted"] == ""
    assert "predicted without audio_svm, audio_lstm" in clips["val_03"]["fusion_reason"]
    assert clips["test_13"]["audio_status"] == "missing"
    assert clips["train_00"]["media_status"] == "done" and clips["train_00"]["fusion_status"] == "n/a"


@pytest.mark.parametrize("init,expected", [
    (PAPER_INIT, None),
    ({"vgg_face_weights": "", "fer2013_csv": "", "fer_iterations": 0},
     "from random initialisation (no VGG-Face weights, models.vgg_lstm.vgg_face_weights empty) and without "
     "FER-2013 step (a) (models.vgg_lstm.fer2013_csv empty, models.vgg_lstm.fer_iterations 0)"),
    ({"vgg_face_weights": "vgg_face.pth", "fer2013_csv": "fer2013.csv", "fer_iterations": 0},
     "trained without FER-2013 step (a) (models.vgg_lstm.fer_iterations 0)"),
    ({"vgg_face_weights": "", "fer2013_csv": "fer2013.csv", "fer_iterations": 100},
     "trained from random initialisation (no VGG-Face weights, models.vgg_lstm.vgg_face_weights empty), so"),
])
def test_vgg_lstm_deviation(init, expected):
    sentence = vgg_lstm_deviation(init)
    if expected is None:
        assert sentence == ""
    else:
        assert sentence.startswith("**Not the paper's experiment:** the VGG-LSTMs were trained")
        assert expected in sentence


def test_summary_opens_with_the_deviation_from_the_paper(tmp_path):
    results, paths = _write_inputs(tmp_path)
    report, _, _ = _build(results, paths, {"vgg_face_weights": "", "fer2013_csv": "", "fer_iterations": 0})
    lines = (report / "summary.md").read_text().splitlines()
    assert lines[0] == "# avemotion results" and lines[1] == ""
    assert lines[2].startswith("**Not the paper's experiment:** the VGG-LSTMs were trained from random initialisation")


def test_summary_lists_the_settings_that_differ_from_the_paper(tmp_path):
    from avemotion.config import load_config, paper_deviations

    results, paths = _write_inputs(tmp_path)
    deviations = [str(d) for d in paper_deviations(load_config())]
    report = results / "report"
    build_report(_inputs(results, paths, bootstrap_samples=50, vgg_lstm_init=PAPER_INIT, paper_deviations=deviations),
                 _outputs(report))
    section = (report / "summary.md").read_text().split("## Settings that differ from the paper")[1].split("## ")[0]
    assert f"{len(deviations)} settings of this run are not the paper's" in section
    assert "- faces.size: 64, paper 224 (2.1: aligned faces are VGG-16's 224 x 224 input [20])" in section
    _build(results, paths)  # no deviations given: the summary says every setting is the paper's
    assert "Every setting the paper gives has the paper's value" in (report / "summary.md").read_text()


def test_clip_table_without_optional_indices(tmp_path):
    results, _ = _write_inputs(tmp_path)
    table = read_report_table(_inputs(results, {}))
    assert clips_tsv_columns(table) == ["clip_id", "dataset", "role", "split", "label", "path", "probe_status",
                                        "probe_reason"]
    statuses = clip_statuses(table)
    assert len(statuses) == 57
    # neither the tables (no dataset column) nor the run (no datasets) name the dataset
    assert statuses[-1].row() == {"clip_id": "broken_00", "dataset": "", "role": "train", "split": "", "label": "",
                                  "path": "clips/broken_00.mp4", "probe_status": "quarantined",
                                  "probe_reason": "clip broken_00: no video stream"}


def test_every_input_file_is_read_once(tmp_path, report_reads):
    results, paths = _write_inputs(tmp_path)
    _build(results, paths)
    assert set(report_reads) == {*paths.values(), results / "manifest.tsv", results / "quarantine.tsv",
                                        results / "media" / "index.tsv", results / "audio" / "index.tsv"}
    assert set(report_reads.values()) == {1}


def test_report_lists_the_submission(tmp_path):
    results, paths = _write_inputs(tmp_path)
    submission = results / "submission"
    build_submission(paths["fusion"], results / "manifest.tsv", results / "quarantine.tsv",
                     submission / "submission.zip", submission / "predictions.tsv")
    report = results / "report"
    build_report(_inputs(results, paths, bootstrap_samples=20, submission_table=submission / "predictions.tsv"),
                 _outputs(report))
    markdown = (report / "summary.md").read_text()
    section = markdown.split("## EmotiW submission")[1].split("\n## ")[0]
    assert ("`submission/submission.zip` holds 14 `<clip_id>.txt` files (the emotion name) for the 14 test "
            "clips") in section
    assert "| no prediction | 0 |" in section and "have no prediction" not in section
    assert ("- test: 14 clips, 13 labelled (scored), 1 unlabelled (predicted only; 1 of them with a fused "
            "prediction)") in markdown
    assert markdown.index("## EmotiW submission") < markdown.index("## All models side by side")


def _rule_job(**optional_inputs) -> Namedlist:
    """What Snakemake hands workflow_scripts/report.py (rules/report.smk)."""
    return Namedlist(fromdict={
        "input": Namedlist(fromdict={"index_media": "media.tsv", "index_audio": "audio.tsv", **optional_inputs,
                                     "predictions": ["a.tsv", "fusion.tsv"], "weights": "weights.json",
                                     "manifest": "manifest.tsv", "quarantine": "quarantine.tsv"}),
        "output": Namedlist(fromdict={"summary": "summary.md", "table": "summary.tsv", "clips": "clips.tsv",
                                      "confusions": ["a.png", "fusion.png"]}),
        "params": Namedlist(fromdict={"report": {"bootstrap_samples": 30, "seed": 4},
                                      "models": ["vgg_lstm_a", "fusion"], "vgg_lstm_init": PAPER_INIT,
                                      "paper_deviations": ["faces.size: 64"]}),
    })


def test_inputs_and_outputs_from_the_rule():
    assert ReportInputs.from_snakemake(_rule_job()) == ReportInputs(
        predictions={"vgg_lstm_a": "a.tsv", "fusion": "fusion.tsv"}, weights="weights.json",
        manifest="manifest.tsv", quarantine="quarantine.tsv",
        stage_indices={"media": "media.tsv", "audio": "audio.tsv"}, submission_table=None,
        bootstrap_samples=30, seed=4, vgg_lstm_init=PAPER_INIT, paper_deviations=("faces.size: 64",))
    assert ReportOutputs.from_snakemake(_rule_job()) == ReportOutputs(
        summary_md="summary.md", summary_tsv="summary.tsv", clips_tsv="clips.tsv",
        confusion_pngs={"vgg_lstm_a": "a.png", "fusion": "fusion.png"})
    with_submission = ReportInputs.from_snakemake(_rule_job(submission="submission/predictions.tsv"))
    assert with_submission.submission_table == "submission/predictions.tsv"
    assert with_submission.stage_indices == {"media": "media.tsv", "audio": "audio.tsv"}


@pytest.mark.slow
def test_demo_run_report(demo_run):
    results = demo_run.results
    report = results / "report"
    models = demo_run.config["fusion"]["models"]
    for name in ["summary.md", "summary.tsv", "clips.tsv"] + [f"confusion_{m}.png" for m in models + ["fusion"]]:
        assert (report / name).stat().st_size > 0, name
    fused = json.loads((results / "metrics" / "fusion.json").read_text())["val"]["accuracy"]
    best_single = max(json.loads((results / "metrics" / f"{m}.json").read_text())["val"]["accuracy"]
                      for m in models)
    # Paper 3.2: the fused network beats every single model (55.61 % val against the best single
    # model's 49.61 %). Every single model is a vertex of the weight grid, so >= holds by construction;
    # strictly above is the paper's result
    assert fused > best_single, (fused, best_single)
    # each modality tells only four groups of the seven classes apart (docs/demo-corpus.md): one
    # modality tops out near 4/7, above it the fusion uses both
    assert fused > 4 / 7, fused
    weights = json.loads((results / "fusion" / "weights.json").read_text())
    assert weights["val"]["accuracy"] == pytest.approx(fused)
    clips = read_tsv(report / "clips.tsv")
    manifest = read_tsv(results / "manifest.tsv")
    quarantine = read_tsv(results / "quarantine.tsv")
    assert len(clips) == len(manifest) + len(quarantine)
    summary = (report / "summary.md").read_text()
    assert "- faces.size: 64, paper 224 (2.1" in summary and "- fusion.refit: False, paper True (3.2" in summary
