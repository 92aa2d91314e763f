"""End to end (slow): the shared demo run trains all five models; each must learn what its modality
shows of the demo corpus above chance, and write complete predictions and metrics.

The demo corpus shows both classes of a face group (avemotion.demo.FACE_GROUP) with the same face,
and both classes of a voice group (VOICE_GROUP) with the same voice, so a perfect one-modality model
scores 4/7 on the 7 classes by a coin flip per pair: what a face model can learn is the face group,
what an audio model can learn is the voice group. Above chance is a one-sided binomial test at the
1 % level on the held-out clips (val and test: the demo run trains on train only): a model that
ignores its input names a clip's group with probability at most the biggest group's share (2 of the
7 classes), so it reaches `above_chance(n, 2/7)` hits of n or more less than 1 % of the time."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binom

from avemotion.artifacts import read_manifest, read_predictions
from avemotion.constants import CLASSES, MODELS, N_CLASSES
from avemotion.demo import FACE_GROUP, VOICE_GROUP
from dag_plan import planned_jobs

pytestmark = pytest.mark.slow
# one-sided binomial test at the usual 5 % level: a model that learned nothing of its modality passes
# with probability below 1 in 20 (on the demo's 28 held-out clips, 13 hits where chance is 2/7)
SIGNIFICANCE = 0.05
GROUPS = {model: FACE_GROUP if model.startswith("vgg_lstm") else VOICE_GROUP for model in MODELS}


def above_chance(n: int, share: float) -> int:
    """The fewest hits of n that a guess right with probability `share` per clip reaches with
    probability below SIGNIFICANCE."""
    return next(k for k in range(n + 1) if binom.sf(k - 1, n, share) < SIGNIFICANCE)


@pytest.mark.parametrize("model", MODELS)
def test_model_learns_its_modalitys_groups_of_the_demo_corpus(demo_run, model):
    metrics = json.loads((demo_run.results / "metrics" / f"{model}.json").read_text())
    assert metrics["val"]["n"] > 0
    rows = [row for row in read_predictions(demo_run.results / "predictions" / f"{model}.tsv")
            if row["split"] in ("val", "test")]
    assert rows
    group = GROUPS[model]
    # a clip the model could not see has no prediction (probs None): a miss, never a group
    predicted = [None if row["probs"] is None else group[CLASSES[int(np.argmax(row["probs"]))]] for row in rows]
    actual = [group[row["label"]] for row in rows]
    biggest_share = max(list(group.values()).count(g) for g in set(group.values())) / N_CLASSES
    hits = sum(p == a for p, a in zip(predicted, actual))
    assert hits >= above_chance(len(rows), biggest_share), (hits, len(rows), list(zip(actual, predicted)))


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
    refit_jobs = [job for job in planned_jobs(dry.stdout) if job.wildcards.get("fit") == "_refit"]
    assert [job.rule for job in refit_jobs] == ["audio_svm"], dry.stdout
