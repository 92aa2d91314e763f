"""End to end (slow): the shared demo run trains all five models; each must learn the demo corpus
clearly above chance (1/7) on val and write complete predictions and metrics."""
from __future__ import annotations

import json

import pytest

from avemotion.artifacts import read_manifest, read_predictions
from avemotion.constants import MODELS, N_CLASSES

pytestmark = pytest.mark.slow
CHANCE = 1.0 / N_CLASSES


@pytest.mark.parametrize("model", MODELS)
def test_model_learns_the_demo_corpus(demo_run, model):
    metrics = json.loads((demo_run.results / "metrics" / f"{model}.json").read_text())
    assert metrics["val"]["n"] > 0
    assert metrics["val"]["accuracy"] >= 2 * CHANCE, metrics["val"]


@pytest.mark.parametrize("model", MODELS)
def test_predictions_cover_every_val_and_test_clip(demo_run, model):
    manifest = read_manifest(demo_run.results / "manifest.tsv")
    expected = {row["clip_id"] for row in manifest if row["split"] in ("val", "test")}
    rows = read_predictions(demo_run.results / "predictions" / f"{model}.tsv")
    assert {row["clip_id"] for row in rows} == expected
    folder = demo_run.results / "models" / model
    assert (folder / "train_log.csv").exists() and (folder / "curve.png").exists()
    assert not (folder / "resume.pt").exists()


def test_refit_rules_run_only_on_request(demo_run):
    assert not (demo_run.results / "predictions_refit").exists()
    dry = demo_run.snakemake("-n", "results/predictions_refit/audio_svm.tsv")
    assert "audio_svm_refit" in dry.stdout
