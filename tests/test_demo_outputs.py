"""The shared demo run's outputs read for their content, not their existence: the EmotiW submission
zip, the Snakemake HTML report, the face QC montages, and the refit models (trained on a copy of the
run)."""
from __future__ import annotations

import base64
import json
import shutil
import zipfile
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from avemotion.artifacts import read_predictions, read_tsv
from avemotion.constants import CLASSES, EMOTIW_EMOTIONS, SPLITS
from avemotion.metrics import predicted_index
from conftest import DemoRun, run_snakemake

pytestmark = pytest.mark.slow

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_submission_zip_holds_the_fused_emotion_of_every_predicted_test_clip(demo_run: DemoRun):
    results = demo_run.results
    fused = {row["clip_id"]: row for row in read_predictions(results / "predictions" / "fusion.tsv")
             if row["split"] == "test"}
    table = {row["clip_id"]: row for row in read_tsv(results / "submission" / "predictions.tsv")}
    test_clips = {row["clip_id"] for row in read_tsv(results / "manifest.tsv") if row["split"] == "test"}
    assert set(table) == test_clips
    with zipfile.ZipFile(results / "submission" / "submission.zip") as archive:
        assert archive.testzip() is None
        members = {info.filename: archive.read(info).decode("ascii") for info in archive.infolist()}
    predicted = {clip for clip, row in table.items() if row["predicted"] == "true"}
    assert set(members) == {f"{clip}.txt" for clip in predicted} == {row["file"] for row in table.values() if row["file"]}
    assert predicted == {clip for clip, row in fused.items() if row["probs"] is not None}
    for clip in predicted:
        expected = EMOTIW_EMOTIONS[CLASSES[predicted_index(fused[clip]["probs"])]]
        assert members[f"{clip}.txt"] == table[clip]["emotion"] == expected, clip


def embedded_report(html: str, name: str) -> dict:
    """The JSON object Snakemake's report assigns to `name` (`categories`, `results`)."""
    start = html.index(f"{name} = {{") + len(f"{name} = ")
    return json.JSONDecoder().raw_decode(html[start:])[0]


def test_html_report_has_every_section_and_embeds_every_figure(demo_run: DemoRun, tmp_path: Path):
    html_path = tmp_path / "report.html"
    demo_run.snakemake("--report", str(html_path))
    html = html_path.read_text(errors="replace")
    categories, results = embedded_report(html, "categories"), embedded_report(html, "results")
    models = demo_run.config["fusion"]["models"]
    assert set(categories) == {"Results", "Faces", "Models"}
    assert set(categories["Models"]) == set(models)
    assert set(categories["Results"]["Confusion matrices"]) == {
        f"results/report/confusion_{model}.png" for model in models + ["fusion"]}
    assert {f"results/faces/qc/montage_{split}.png" for split in SPLITS} <= set(categories["Faces"]["Other"])
    listed = {path for sections in categories.values() for paths in sections.values() for path in paths}
    assert listed == set(results)
    for path, entry in results.items():
        assert entry["caption"].strip(), f"{path}: no caption"
        payload = base64.b64decode(entry["data_uri"].split(",", 1)[1])
        assert payload == (demo_run.workdir / path).read_bytes(), f"{path}: the report embeds other bytes"
        if path.endswith(".png"):
            assert payload.startswith(PNG_SIGNATURE), path


def test_qc_montages_show_a_face_per_listed_clip(demo_run: DemoRun):
    """A montage has one 64-px tile per clip (up to 4 per class row) and track panel; every clip
    with a face on a track shows it, so its tile differs from the grey of a clip without one."""
    per_class = 2  # the tiny demo's val split
    image = matplotlib.image.imread(demo_run.results / "faces" / "qc" / "montage_val.png")
    assert image.ndim == 3 and image.shape[0] >= 64 * len(CLASSES) and image.shape[1] >= 2 * 64 * per_class
    rgb = image[..., :3]
    # faces are not one flat colour: a panel of tiles of real faces has spread in every channel, here
    # at least 13 of 255 levels, far from the flat grey of a panel of clips without a face
    assert rgb.std(axis=(0, 1)).min() > 0.05, rgb.std(axis=(0, 1))
    detection = read_tsv(demo_run.results / "faces" / "qc" / "detection.tsv")
    assert {row["a_status"] for row in detection} == {"ok"} and int(detection[0]["a_n_faces"]) > 0


@pytest.fixture(scope="module")
def refit_run(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """A copy of the finished demo run with the two quickest models' refit jobs run."""
    workdir = tmp_path_factory.mktemp("refit") / "run"
    shutil.copytree(demo_run.workdir, workdir, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    run = DemoRun(workdir=workdir, configfile=workdir / demo_run.configfile.name, config=demo_run.config)
    run_snakemake(workdir, "--cores", "2", "results/predictions_refit/audio_svm.tsv",
                  "results/predictions_refit/audio_lstm.tsv", configfile=run.configfile)
    return run


@pytest.mark.parametrize("model", ["audio_svm", "audio_lstm"])
def test_a_refit_model_trains_on_train_and_val_and_predicts_the_test_clips(model: str, refit_run: DemoRun):
    import torch

    results = refit_run.results
    refit_rows = read_predictions(results / "predictions_refit" / f"{model}.tsv")
    train_rows = read_predictions(results / "predictions" / f"{model}.tsv")
    assert {row["split"] for row in refit_rows} == {"test"}
    assert [row["clip_id"] for row in refit_rows] == [row["clip_id"] for row in train_rows if row["split"] == "test"]
    assert set(json.loads((results / "metrics_refit" / f"{model}.json").read_text())) == {"test"}
    assert read_csv(results / "models_refit" / model / "train_log.csv"), "the refit job wrote no training log"
    if model == "audio_svm":
        from avemotion.models import load_trained_model

        refit = load_trained_model(results / "models_refit" / model / "checkpoint.pt").network
        first = load_trained_model(results / "models" / model / "checkpoint.pt").network
        # the refit SVM was fitted on the val clips too: more training vectors than the first
        assert refit.named_steps["scale"].n_samples_seen_ > first.named_steps["scale"].n_samples_seen_
    else:
        refit = torch.load(results / "models_refit" / model / "checkpoint.pt", weights_only=True)
        first = torch.load(results / "models" / model / "checkpoint.pt", weights_only=True)
        assert refit["train_splits"] == ["train", "val"] and first["train_splits"] == ["train"]
        assert any(not torch.equal(refit["state_dict"][key], first["state_dict"][key]) for key in first["state_dict"])
    probabilities = np.stack([row["probs"] for row in refit_rows if row["probs"] is not None])
    # float32 softmax over 7 classes (eps 1.2e-7 each) and the table's 8 decimals
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)


def read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_bundle_holds_the_fused_models_and_the_same_run_rewrites_the_same_bytes(demo_run: DemoRun):
    from avemotion.bundle import read_bundle

    path = demo_run.results / "bundle" / "model.zip"
    before = path.read_bytes()
    contents = read_bundle(path)
    weights = json.loads((demo_run.results / "fusion" / "weights.json").read_text())
    assert contents.config["fusion"]["weights"] == weights["weights"]
    assert set(contents.model_weights) == set(weights["models"])
    assert set(contents.metrics) == set(weights["models"]) | {"fusion"}
    assert "not an emotion recogniser for real faces" in contents.model_card  # the demo corpus's limit
    assert not contents.differences()
    demo_run.snakemake("--cores", "1", "--forcerun", "bundle", "--until", "bundle")
    assert path.read_bytes() == before
