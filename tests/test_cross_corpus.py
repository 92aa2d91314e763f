"""Datasets in roles (docs/datasets.md#cross-corpus-evaluation): the schema and the checks of
`dataset:` (one or pooled) and `evaluate:`, pooled manifests with unique clip ids, the label
mappings the report names, the submission of a pooled run (AFEW's test clips only) and the fusion of
an evaluation dataset. The whole runs are in tests/test_datasets_e2e.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from avemotion.artifacts import read_predictions, write_predictions
from avemotion.config import (DatasetConfigError, check_datasets, dataset_problems, evaluation_datasets,
                              lacks_organiser_faces, load_config, paper_deviations, training_datasets)
from avemotion.datasets import label_mapping, pooled_candidates
from avemotion.fusion import fuse_with_chosen_weights, fused_rows, load_predictions
from avemotion.submission import submission_entries

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "schemas" / "config.schema.yaml")


def base_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.mark.parametrize("edit,message", [
    (lambda c: c.update(evaluate=[{"kind": "imagenet", "path": "x"}]), "'imagenet' is not one of"),
    (lambda c: c.update(evaluate=[{"kind": "demo", "path": ""}]), "'demo' is not one of \\['afew', 'ravdess'"),
    (lambda c: c.update(evaluate=[{"kind": "ravdess"}]), "'path' is a required property"),
    (lambda c: c.update(evaluate=[{"kind": "ravdess", "path": "x", "name": "a/b"}]), "'a/b' does not match"),
    (lambda c: c.update(evaluate=[{"kind": "ravdess", "path": "x", "calm": "drop"}]), "'calm' was unexpected"),
    (lambda c: c.update(dataset=[]), "\\[\\] should be non-empty"),
    (lambda c: c.update(dataset=[{"kind": "afew", "path": "a"}, {"kind": "cremad2", "path": "c"}]),
     "'cremad2' is not one of"),
])
def test_the_schema_names_what_is_wrong_with_a_dataset_entry(edit, message):
    config = base_config()
    edit(config)
    with pytest.raises(WorkflowError, match=message):
        validate(config, schema=SCHEMA)


def test_pooled_and_evaluation_datasets_validate_and_get_their_names():
    config = base_config()
    config["dataset"] = [{"kind": "afew", "path": "/d/afew"}, {"kind": "list", "path": "/d/l.csv", "name": "mine"}]
    config["evaluate"] = [{"kind": "ravdess", "path": "/d/ravdess"}]
    validate(config, schema=SCHEMA)
    assert [entry["name"] for entry in training_datasets(config)] == ["afew", "mine"]
    assert [entry["name"] for entry in evaluation_datasets(config)] == ["ravdess"]
    assert dataset_problems(config) == []


def test_the_default_config_evaluates_nothing():
    assert load_config()["evaluate"] == [] and evaluation_datasets(load_config()) == []


@pytest.mark.parametrize("dataset,evaluate,message", [
    ({"kind": "ravdess", "path": "/d/ravdess"}, [{"kind": "ravdess", "path": "/d/ravdess/"}],
     "evaluate\\[0\\] \\(ravdess '/d/ravdess/'\\) is also a training dataset \\(dataset\\): a dataset is trained "
     "on or evaluated, not both"),
    ([{"kind": "afew", "path": "/d/afew"}, {"kind": "cremad", "path": "/d/afew"}], [],
     "dataset\\[0\\] \\(afew '/d/afew'\\) and dataset\\[1\\] \\(cremad '/d/afew'\\) have the same path"),
    ({"kind": "afew", "path": "/d/afew"}, [{"kind": "list", "path": "/d/a.csv"}, {"kind": "list", "path": "/d/b.csv"}],
     "evaluate\\[0\\] and evaluate\\[1\\] are both named 'list' .*give each a distinct `name`"),
])
def test_datasets_in_clashing_roles_stop_the_run_with_the_reason(dataset, evaluate, message):
    config = base_config()
    config.update(dataset=dataset, evaluate=evaluate)
    with pytest.raises(DatasetConfigError, match=message):
        check_datasets(config)


def test_distinct_names_make_two_lists_acceptable():
    config = base_config()
    config["evaluate"] = [{"kind": "list", "path": "/d/a.csv", "name": "a"}, {"kind": "list", "path": "/d/b.csv"}]
    assert dataset_problems(config) == []


def test_pooled_afew_is_still_afew_for_the_paper_checks():
    config = load_config()
    config["dataset"] = [{"kind": "afew", "path": "/d/afew"}, {"kind": "ravdess", "path": "/d/ravdess"}]
    assert lacks_organiser_faces(config)
    kinds = [d for d in paper_deviations(config) if d.key == "dataset.kind"]
    assert [d.value for d in kinds] == ["afew+ravdess"]


def write_list(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("path,label,split\n" + "".join(f"{p},{label},{split}\n" for p, label, split in rows))
    return path


def test_a_clip_id_two_pooled_datasets_share_gets_each_dataset_prefix(tmp_path):
    first = write_list(tmp_path / "first.csv", [("a/x.mp4", "HA", "train"), ("a/y.mp4", "SA", "val")])
    second = write_list(tmp_path / "second.csv", [("b/x.mp4", "AN", "train"), ("b/z.mp4", "NE", "test")])
    candidates, rejections = pooled_candidates([{"kind": "list", "path": str(first), "name": "one"},
                                                {"kind": "list", "path": str(second), "name": "two"}])
    assert rejections == []
    assert sorted((c.clip_id, c.dataset, c.label) for c in candidates) == [
        ("one_x", "one", "HA"), ("two_x", "two", "AN"), ("y", "one", "SA"), ("z", "two", "NE")]


def test_a_pooled_rejection_names_its_dataset(tmp_path):
    listing = write_list(tmp_path / "l.csv", [("a/x.mp4", "bored", "train")])
    _, rejections = pooled_candidates([{"kind": "list", "path": str(listing), "name": "mine"}])
    assert [(r.clip_id, r.dataset) for r in rejections] == [("x", "mine")]


def test_the_label_mapping_says_what_became_of_calm_and_surprise():
    assert "calm (02) folded into neutral (NE)" in label_mapping({"kind": "ravdess", "path": ""})
    assert "calm (02) dropped" in label_mapping({"kind": "ravdess", "path": "", "ravdess_calm": "drop"})
    assert "no surprise (SU)" in label_mapping({"kind": "cremad", "path": ""})


def test_a_pooled_submission_holds_the_afew_test_clips_only():
    manifest = [{"clip_id": "a1", "split": "test", "label": "", "dataset": "afew"},
                {"clip_id": "r1", "split": "test", "label": "HA", "dataset": "ravdess"}]
    quarantine = [{"clip_id": "a2", "split": "test", "dataset": "afew", "stage": "probe", "reason": "zero-byte"},
                  {"clip_id": "r2", "split": "test", "dataset": "ravdess", "stage": "probe", "reason": "zero-byte"}]
    fused = [{"clip_id": c, "split": "test", "label": "", "status": "ok", "reason": "",
              "probs": np.eye(7)[3]} for c in ("a1", "r1")]
    entries = submission_entries(fused, manifest, quarantine, datasets=["afew"])
    assert [(e.clip_id, e.class_code) for e in entries] == [("a1", "HA"), ("a2", "")]
    assert [e.clip_id for e in submission_entries(fused, manifest, quarantine)] == ["a1", "a2", "r1", "r2"]


def prediction_table(path: Path, probs: dict[str, np.ndarray | None]) -> Path:
    write_predictions(path, [{"clip_id": clip, "split": "train", "label": "HA", "probs": p,
                              "status": "ok" if p is not None else "quarantined",
                              "reason": "" if p is not None else f"{clip}: no face"} for clip, p in probs.items()])
    return path


def test_an_evaluation_dataset_is_fused_with_the_chosen_weights_over_every_split(tmp_path):
    rng = np.random.default_rng(0)
    paths = {model: prediction_table(tmp_path / f"{model}.tsv",
                                     {"c1": rng.dirichlet(np.ones(7)), "c2": None if model == "m1" else rng.dirichlet(
                                         np.ones(7))}) for model in ("m1", "m2")}
    weights = tmp_path / "weights.json"
    weights.write_text(json.dumps({"models": ["m1", "m2"], "weights": {"m1": 0.75, "m2": 0.25}}))
    rows = fuse_with_chosen_weights(paths, weights, tmp_path / "fusion.tsv")
    expected = fused_rows(load_predictions(paths), np.array([0.75, 0.25]))
    written = read_predictions(tmp_path / "fusion.tsv")
    assert [r["split"] for r in written] == ["train", "train"]  # an evaluation dataset's train clips are fused too
    for row, want, saved in zip(rows, expected, written):
        np.testing.assert_allclose(row["probs"], want["probs"])
        np.testing.assert_allclose(saved["probs"], want["probs"], atol=1e-7)
    np.testing.assert_allclose(written[1]["probs"], read_predictions(paths["m2"])[1]["probs"], atol=1e-7)
    reordered = dict(reversed(list(paths.items())))
    with pytest.raises(ValueError, match="fuses \\['m1', 'm2'\\]"):
        fuse_with_chosen_weights(reordered, weights, tmp_path / "other.tsv")



def test_an_evaluation_corpus_matches_the_wildcard_and_names_its_dataset():
    import re

    from avemotion.layout import CORPUS_PATTERN, FACE_STACK, evaluation_corpus, evaluation_name

    corpus = evaluation_corpus("ravdess_2")
    assert re.fullmatch(CORPUS_PATTERN, corpus) and re.fullmatch(CORPUS_PATTERN, "")
    assert not re.fullmatch(CORPUS_PATTERN, "evaluate/../") and not re.fullmatch(CORPUS_PATTERN, "media/")
    assert evaluation_name(corpus) == "ravdess_2" and evaluation_name("") == ""
    assert str(FACE_STACK.path("c", 4, corpus=corpus, track="b")).startswith("results/evaluate/ravdess_2/faces/b/")
    assert str(FACE_STACK.path("c", 4, track="b")).startswith("results/faces/b/")
