"""The EmotiW submission: fused test predictions as one <clip_id>.txt per clip in a zip, a table
with every test clip (and why one has no prediction), refit mode, and its place in the report
(unlabelled test clips predicted, not scored)."""
from __future__ import annotations

import logging
import stat
import zipfile

import numpy as np
import pytest

from avemotion.artifacts import current_umask, read_tsv, write_predictions, write_tsv
from avemotion.constants import CLASSES, EMOTIW_EMOTIONS
from avemotion.fusion import run_fusion
from avemotion.report import ReportClip, ReportInputs, ReportOutputs, ReportTable, build_report, split_counts
from avemotion.submission import (
    SUBMISSION_COLUMNS, SubmissionEntry, build_submission, class_counts, emotion_name, submission_entries,
    write_submission_zip,
)

MODELS = ("vgg_lstm_a", "audio_svm")


def onehot(code: str, strength: float = 0.9) -> np.ndarray:
    probs = np.full(len(CLASSES), (1 - strength) / (len(CLASSES) - 1))
    probs[CLASSES.index(code)] = strength
    return probs


def test_emotion_names_are_the_challenges():
    assert [emotion_name(c) for c in CLASSES] == ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]
    assert set(EMOTIW_EMOTIONS) == set(CLASSES)
    with pytest.raises(ValueError, match="unknown class 'XX'"):
        emotion_name("XX")


def test_every_test_clip_gets_an_entry_with_its_emotion_or_the_reason():
    manifest = [
        {"clip_id": "t1", "split": "test", "label": ""},
        {"clip_id": "t2", "split": "test", "label": "SA"},
        {"clip_id": "t3", "split": "test", "label": ""},
        {"clip_id": "t4", "split": "test", "label": ""},
        {"clip_id": "v1", "split": "val", "label": "HA"},
        {"clip_id": "r1", "split": "train", "label": "HA"},
    ]
    fused = [
        {"clip_id": "t1", "split": "test", "label": "", "probs": onehot("SU"), "status": "ok", "reason": ""},
        {"clip_id": "t2", "split": "test", "label": "SA", "probs": onehot("AN"), "status": "ok",
         "reason": "predicted without audio_svm (fusion weight 0.40 left out)"},
        {"clip_id": "t3", "split": "test", "label": "", "probs": None, "status": "quarantined",
         "reason": "clip t3: no fused model can see this clip (vgg_lstm_a: no face)"},
        {"clip_id": "v1", "split": "val", "label": "HA", "probs": onehot("HA"), "status": "ok", "reason": ""},
    ]
    quarantine = [
        {"clip_id": "t5", "path": "Test_AFEW/t5.avi", "stage": "probe", "reason": "zero-byte file", "split": "test"},
        # a video and its audio file rejected together: one entry
        {"clip_id": "t6", "path": "a/t6.mp4", "stage": "probe", "reason": "audio file t6.wav: no audio", "split": "test"},
        {"clip_id": "t6", "path": "a/t6.wav", "stage": "probe", "reason": "audio file t6.wav: no audio", "split": "test"},
        {"clip_id": "x1", "path": "Val_AFEW/Happy/x1.avi", "stage": "probe", "reason": "zero-byte file", "split": "val"},
        {"clip_id": "x2", "path": "stray/x2.avi", "stage": "dataset", "reason": "not in a split folder", "split": ""},
    ]
    entries = {e.clip_id: e for e in submission_entries(fused, manifest, quarantine)}
    assert sorted(entries) == ["t1", "t2", "t3", "t4", "t5", "t6"]
    assert (entries["t1"].emotion, entries["t1"].file_name, entries["t1"].reason) == ("Surprise", "t1.txt", "")
    assert entries["t2"].emotion == "Angry" and entries["t2"].label == "SA"
    assert "without audio_svm" in entries["t2"].reason  # the fusion's note travels with the entry
    assert not entries["t3"].predicted and entries["t3"].file_name == ""
    assert entries["t3"].reason.startswith("clip t3: no fused model can see this clip")
    assert entries["t4"].reason == "clip t4: not in the fused predictions"
    assert entries["t5"].reason == "quarantined at probe: zero-byte file (Test_AFEW/t5.avi)"
    assert entries["t5"].quarantined_at == "probe" and entries["t3"].quarantined_at == ""
    assert entries["t6"].reason.startswith("quarantined at probe: audio file t6.wav")
    # an entry without a prediction has "" for its class (and label where the clip has none), never None
    assert entries["t1"] == SubmissionEntry("t1", "SU", "", "")
    assert entries["t3"] == SubmissionEntry("t3", "", "", "clip t3: no fused model can see this clip (vgg_lstm_a: no face)")
    assert entries["t4"] == SubmissionEntry("t4", "", "", "clip t4: not in the fused predictions")
    assert entries["t5"] == SubmissionEntry("t5", "", "", "quarantined at probe: zero-byte file (Test_AFEW/t5.avi)",
                                            quarantined_at="probe")
    counts = class_counts(list(entries.values()))
    assert list(counts) == ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise", "no prediction"]
    assert (counts["Surprise"], counts["Angry"], counts["no prediction"], sum(counts.values())) == (1, 1, 4, 6)


def test_zip_holds_one_txt_per_predicted_clip_and_is_reproducible(tmp_path):
    entries = [SubmissionEntry("011145880", "HA", "", ""), SubmissionEntry("000046280", "AN", "", ""),
               SubmissionEntry("000999999", "", "", "clip 000999999: no fused model can see this clip")]
    first, second = tmp_path / "a" / "submission.zip", tmp_path / "b" / "submission.zip"
    assert write_submission_zip(first, entries) == 2
    write_submission_zip(second, list(reversed(entries)))
    assert first.read_bytes() == second.read_bytes()  # same predictions, same bytes
    with zipfile.ZipFile(first) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["000046280.txt", "011145880.txt"]  # at the root, sorted
        assert archive.read("011145880.txt") == b"Happy" and archive.read("000046280.txt") == b"Angry"
        # each member unpacks as a plain rw-r--r-- file, whatever the umask of the machine that wrote it
        assert [stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()] == [0o644, 0o644]
    granted = 0o444 & ~current_umask()
    assert stat.S_IMODE(first.stat().st_mode) & granted == granted


def _write_run(tmp_path, refit: bool):
    """A manifest of 4 val and 3 unlabelled test clips (one never seen), two models' predictions (and
    their refit twins, which predict other classes for the test clips), fused by run_fusion."""
    results = tmp_path / "results"
    val = [("v0", "AN"), ("v1", "HA"), ("v2", "SA"), ("v3", "SU")]
    test = ["t0", "t1", "t2"]
    manifest = [{"clip_id": c, "split": "val", "label": label} for c, label in val]
    manifest += [{"clip_id": c, "split": "test", "label": ""} for c in test]
    manifest.append({"clip_id": "r0", "split": "train", "label": "NE"})
    write_tsv(results / "manifest.tsv", ("clip_id", "split", "label", "path", "has_audio"),
              [dict(row, path=f"{row['clip_id']}.avi", has_audio="true") for row in manifest])
    write_tsv(results / "quarantine.tsv", ("clip_id", "path", "stage", "reason", "split"),
              [{"clip_id": "t9", "path": "Test_AFEW/t9.avi", "stage": "probe", "reason": "zero-byte file",
                "split": "test"}])
    unseen = {"status": "quarantined", "probs": None, "reason": "clip t2: no face / no audio"}

    def rows(test_classes):
        table = [{"clip_id": c, "split": "val", "label": label, "probs": onehot(label), "status": "ok", "reason": ""}
                 for c, label in val]
        for clip_id, code in zip(test, test_classes):
            row = {"clip_id": clip_id, "split": "test", "label": "", "probs": onehot(code), "status": "ok",
                   "reason": ""}
            table.append(dict(row, **unseen) if clip_id == "t2" else row)
        return table

    paths, refit_paths = {}, {}
    for model in MODELS:
        paths[model] = results / "predictions" / f"{model}.tsv"
        write_predictions(paths[model], rows(["FE", "NE", "NE"]))
        refit_paths[model] = results / "predictions_refit" / f"{model}.tsv"
        write_predictions(refit_paths[model], [r for r in rows(["DI", "HA", "HA"]) if r["split"] == "test"])
    run_fusion(paths, results / "fusion" / "weights.json", results / "predictions" / "fusion.tsv",
               results / "metrics" / "fusion.json", grid_step=0.5,
               refit_prediction_paths=refit_paths if refit else None)
    paths["fusion"] = results / "predictions" / "fusion.tsv"
    return results, paths


@pytest.mark.parametrize("refit", [False, True])
def test_build_submission_from_the_fused_predictions(tmp_path, refit):
    results, _ = _write_run(tmp_path, refit)
    submission = results / "submission"
    build_submission(results / "predictions" / "fusion.tsv", results / "manifest.tsv", results / "quarantine.tsv",
                     submission / "submission.zip", submission / "predictions.tsv")
    table = read_tsv(submission / "predictions.tsv")
    assert list(table[0]) == list(SUBMISSION_COLUMNS)
    assert (submission / "predictions.tsv").read_bytes().endswith(b"\n")
    by_clip = {row["clip_id"]: row for row in table}
    assert sorted(by_clip) == ["t0", "t1", "t2", "t9"]
    expected = {"t0": "Disgust", "t1": "Happy"} if refit else {"t0": "Fear", "t1": "Neutral"}
    with zipfile.ZipFile(submission / "submission.zip") as archive:
        assert {name: archive.read(name).decode() for name in archive.namelist()} == {
            f"{c}.txt": emotion for c, emotion in expected.items()}
    for clip_id, emotion in expected.items():
        assert (by_clip[clip_id]["predicted"], by_clip[clip_id]["emotion"], by_clip[clip_id]["file"]) == (
            "true", emotion, f"{clip_id}.txt")
    for clip_id in ("t2", "t9"):
        assert by_clip[clip_id]["predicted"] == "false" and by_clip[clip_id]["file"] == ""
        assert by_clip[clip_id]["emotion"] == "" and by_clip[clip_id]["reason"]
    assert "no fused model can see this clip" in by_clip["t2"]["reason"]
    assert by_clip["t9"]["reason"] == "quarantined at probe: zero-byte file (Test_AFEW/t9.avi)"
    assert (by_clip["t9"]["quarantined_at"], by_clip["t2"]["quarantined_at"]) == ("probe", "")


def test_report_lists_the_submission_and_unlabelled_clips_as_predicted_not_scored(tmp_path):
    results, paths = _write_run(tmp_path, refit=True)
    submission = results / "submission"
    build_submission(paths["fusion"], results / "manifest.tsv", results / "quarantine.tsv",
                     submission / "submission.zip", submission / "predictions.tsv")
    report = results / "report"
    inputs = ReportInputs(predictions=paths, weights=results / "fusion" / "weights.json",
                          manifest=results / "manifest.tsv", quarantine=results / "quarantine.tsv",
                          bootstrap_samples=20, submission_table=submission / "predictions.tsv")
    outputs = ReportOutputs(summary_md=report / "summary.md", summary_tsv=report / "summary.tsv",
                            clips_tsv=report / "clips.tsv")
    scores = build_report(inputs, outputs)
    markdown = (report / "summary.md").read_text()
    assert "- val: 4 clips, 4 labelled (scored), 0 unlabelled (predicted only)" in markdown
    assert ("- test: 3 clips, 0 labelled (scored), 3 unlabelled (predicted only; 2 of them with a fused "
            "prediction)") in markdown
    assert all("test" not in by_split for by_split in scores.values())  # nothing scored on test
    section = markdown.split("## EmotiW submission")[1].split("\n## ")[0]
    assert "`submission/submission.zip` holds 2 `<clip_id>.txt` files" in section
    assert "for the 4 test clips (1 of them quarantined before the models" in section and "refit mode" in section
    assert "| Disgust | 1 |" in section and "| Happy | 1 |" in section and "| no prediction | 2 |" in section
    assert "| t9 | quarantined at probe: zero-byte file" in section
    clips = {row["clip_id"]: row for row in read_tsv(report / "clips.tsv")}
    assert clips["t0"]["fusion_predicted"] == "DI" and clips["t0"]["label"] == ""
    assert clips["t9"]["probe_status"] == "quarantined" and clips["t9"]["split"] == "test"


def test_split_counts_without_fused_rows():
    clips = (ReportClip("a", split="test", label="", path="", stage_rows={}, predictions={}),
             ReportClip("b", split="test", label="HA", path="", stage_rows={}, predictions={}))
    counts = split_counts(ReportTable(stages=(), models=(), clips=clips, predictions={}, weights={}, submission=None))
    assert [(c.split, c.n, c.labelled, c.unlabelled) for c in counts] == [("val", 0, 0, 0), ("test", 2, 1, 1)]
    assert counts[1].sentence() == "test: 2 clips, 1 labelled (scored), 1 unlabelled (predicted only)"


def test_labels_reasons_and_stages_a_row_leaves_out_read_as_empty():
    # submission_entries: a manifest row without a label column is unlabelled (""); a labelled test clip
    # keeps its label even without a prediction; a fused row that is not "ok" gives no prediction even
    # with probabilities, and without a reason gets "clip <id> quarantined"; an "ok" row without a reason
    # has none; a quarantined file keeps its stage (dataset or probe), an empty or missing stage reads as
    # probe and a missing reason or path as empty.
    manifest = [{"clip_id": "a", "split": "test"}, {"clip_id": "b", "split": "test", "label": "SA"},
                {"clip_id": "c", "split": "test", "label": ""}, {"clip_id": "d", "split": "test", "label": "HA"}]
    fused = [{"clip_id": "a", "split": "test", "probs": onehot("FE"), "status": "ok"},
             {"clip_id": "b", "split": "test", "probs": onehot("SA"), "status": "quarantined"},
             {"clip_id": "c", "split": "test", "probs": None, "status": "quarantined", "reason": ""}]
    quarantine = [
        {"clip_id": "e", "path": "stray/e.avi", "stage": "dataset", "reason": "not in a split folder", "split": "test"},
        {"clip_id": "f", "path": "f.avi", "stage": "", "reason": "zero-byte file", "split": "test"},
        {"clip_id": "g", "split": "test"},
        {"clip_id": "h", "path": "h.avi", "stage": "probe", "reason": "zero-byte file"},  # no split: not a test clip
    ]
    entries = {e.clip_id: e for e in submission_entries(fused, manifest, quarantine)}
    assert entries == {
        "a": SubmissionEntry("a", "FE", "", ""),
        "b": SubmissionEntry("b", "", "SA", "clip b quarantined"),
        "c": SubmissionEntry("c", "", "", "clip c quarantined"),
        "d": SubmissionEntry("d", "", "HA", "clip d: not in the fused predictions"),
        "e": SubmissionEntry("e", "", "", "quarantined at dataset: not in a split folder (stray/e.avi)",
                             quarantined_at="dataset"),
        "f": SubmissionEntry("f", "", "", "quarantined at probe: zero-byte file (f.avi)", quarantined_at="probe"),
        "g": SubmissionEntry("g", "", "", "quarantined at probe:  ()", quarantined_at="probe"),
    }


def test_a_row_of_the_table_has_every_column():
    # predictions.tsv: SUBMISSION_COLUMNS, the label beside the prediction
    entry = SubmissionEntry("t1", "HA", "SA", "predicted without audio_svm")
    assert entry.row() == {"clip_id": "t1", "predicted": True, "emotion": "Happy", "class": "HA", "file": "t1.txt",
                           "label": "SA", "quarantined_at": "", "reason": "predicted without audio_svm"}
    assert list(entry.row()) == list(SUBMISSION_COLUMNS)


def test_class_counts_count_every_clip_of_an_emotion():
    entries = [SubmissionEntry(c, code, "", "") for c, code in [("a", "HA"), ("b", "HA"), ("c", "HA"), ("d", "AN")]]
    entries.append(SubmissionEntry("e", "", "", "clip e: not in the fused predictions"))
    counts = class_counts(entries)
    assert (counts["Happy"], counts["Angry"], counts["Sad"], counts["no prediction"]) == (3, 1, 0, 1)


def test_the_clips_left_out_of_the_submission_are_named_in_the_log(tmp_path, caplog):
    # build_submission warns about each test clip without a prediction (and only those);
    # submission_entries about fused test clips the manifest does not list
    caplog.set_level(logging.WARNING, logger="avemotion.submission")
    write_predictions(tmp_path / "fusion.tsv", [
        {"clip_id": "t1", "split": "test", "label": "", "probs": onehot("HA"), "status": "ok", "reason": ""},
        {"clip_id": "stray", "split": "test", "label": "", "probs": onehot("HA"), "status": "ok", "reason": ""}])
    write_tsv(tmp_path / "manifest.tsv", ("clip_id", "split", "label"),
              [{"clip_id": "t1", "split": "test", "label": ""}, {"clip_id": "t2", "split": "test", "label": ""}])
    write_tsv(tmp_path / "quarantine.tsv", ("clip_id", "path", "stage", "reason", "split"), [])
    build_submission(tmp_path / "fusion.tsv", tmp_path / "manifest.tsv", tmp_path / "quarantine.tsv",
                     tmp_path / "submission.zip", tmp_path / "predictions.tsv")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [m for m in warnings if m.startswith("test clip")] == [
        "test clip t2 has no prediction: clip t2: not in the fused predictions"]
    assert [m for m in warnings if "not in the manifest" in m] == [
        "1 fused test clips are not in the manifest and are left out: ['stray']"]
