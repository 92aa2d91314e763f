"""The trained network as one file (`avemotion.bundle`): written from a results folder of five tiny
models trained on synthetic features, each model read back from the bundle predicts exactly what
its checkpoint predicts; the same inputs give the same bytes; tampered, incomplete, pickle-carrying
and other-format bundles are refused with the member's name; reading never unpickles. The demo run's
own bundle is tested in tests/test_predict.py (predict from it in an empty directory)."""
from __future__ import annotations

import hashlib
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from avemotion.bundle import read as bundle_read, spec as bundle_spec
from avemotion.bundle import BundleError, read_bundle, write_bundle
from avemotion.models import load_trained_model, predict_clip_probabilities, trained_model_from_weights
import synthetic_corpus as synthetic

torch.set_num_threads(1)
WEIGHTS = {"vgg_lstm_a": 0.35, "vgg_lstm_b": 0.15, "audio_svm": 0.25, "audio_lstm": 0.15, "inception_lstm": 0.10}
MODEL_INPUT = {"vgg_lstm_a": "faces", "vgg_lstm_b": "faces", "audio_svm": "is10", "audio_lstm": "shortterm",
               "inception_lstm": "maps"}
SETTINGS = {"media": {"timeline_fps": 60}, "faces": {"method": "mediapipe"}, "audio": {"sample_rate": 16000},
            "dataset": {"kind": "demo"}}
DEVIATIONS = ("models.vgg_lstm.input_size: 32 (paper: 224)",)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[synthetic.SyntheticCorpus, Path]:
    root = tmp_path_factory.mktemp("bundle")
    corpus = synthetic.write_corpus(root / "features", per_class={"train": 2, "val": 1, "test": 1}, face_size=32,
                                    n_timeline=60)
    return corpus, synthetic.train_five_models(corpus, root / "results", synthetic.TINY_MODELS, WEIGHTS)


def build(results: Path, corpus, out: Path) -> Path:
    summary = results / "summary.tsv"
    summary.write_text("model\tsplit\tn\taccuracy\taccuracy_low\taccuracy_high\tuar\tuar_low\tuar_high\tpaper_accuracy\t"
                       "paper_uar\nfusion\ttest\t14\t0.5\t0.25\t0.75\t0.5\t0.2\t0.8\t0.5115\t\n")
    return write_bundle(out, {m: results / "models" / m / "checkpoint.pt" for m in WEIGHTS},
                        json.loads((results / "fusion" / "weights.json").read_text()),
                        # track B's model is a copy of track A's (synthetic_corpus): no metrics of its own
                        {m: results / "metrics" / f"{m}.json" for m in WEIGHTS if m != "vgg_lstm_b"}, summary,
                        corpus.manifest,
                        SETTINGS, DEVIATIONS)


@pytest.fixture(scope="module")
def bundle_path(trained, tmp_path_factory) -> Path:
    corpus, results = trained
    return build(results, corpus, tmp_path_factory.mktemp("out") / "model.zip")


def test_every_model_from_the_bundle_predicts_exactly_what_its_checkpoint_predicts(trained, bundle_path):
    corpus, results = trained
    contents = read_bundle(bundle_path)
    assert set(contents.model_weights) == set(WEIGHTS)
    assert contents.config["fusion"]["weights"] == WEIGHTS
    assert contents.config["media"] == SETTINGS["media"] and contents.config["dataset"] == {"kind": "demo"}
    assert sum(contents.config["splits"]["train"].values()) == 14  # 2 clips x 7 classes
    assert set(contents.metrics) == set(WEIGHTS) - {"vgg_lstm_b"}
    for model in WEIGHTS:
        saved = torch.load(results / "models" / model / "checkpoint.pt", weights_only=True)
        for key, tensor in saved.get("state_dict", {}).items():  # same values, dtypes and shapes (0-d too)
            stored = contents.model_weights[model]["state_dict"][key]
            assert stored.dtype == tensor.dtype and torch.equal(stored, tensor), (model, key)
        ours = trained_model_from_weights(contents.model_weights[model])
        theirs = load_trained_model(results / "models" / model / "checkpoint.pt")
        assert ours.architecture == theirs.architecture and ours.config == theirs.config
        files = getattr(corpus, MODEL_INPUT[model])
        for clip_file in list(files.values())[:6]:
            assert np.array_equal(predict_clip_probabilities(ours, clip_file),
                                  predict_clip_probabilities(theirs, clip_file)), (model, clip_file)


def test_the_same_run_gives_the_same_bytes(trained, bundle_path, tmp_path):
    corpus, results = trained
    again = build(results, corpus, tmp_path / "again.zip")
    assert again.read_bytes() == bundle_path.read_bytes()


def test_the_model_card_says_data_metrics_deviations_and_limits(bundle_path):
    card = read_bundle(bundle_path).model_card
    for heading in ("## Data", "## Metrics", "## Settings that differ from the paper", "## Intended use", "## Limits"):
        assert heading in card
    assert "| train | 14 |" in card and "| fusion | test | 14 | 50.0 [25.0, 75.0] | 50.0 [20.0, 80.0] | 51.1 | - |" in card
    assert DEVIATIONS[0] in card
    assert "not an emotion recogniser for real faces" in card  # trained on the demo corpus


def test_reading_never_unpickles(bundle_path, trained, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a bundle load unpickled something")

    class Refusing(pickle.Unpickler):
        def __init__(self, *args, **kwargs):
            refuse()

    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", Refusing)
    contents = read_bundle(bundle_path)
    models = {m: trained_model_from_weights(w) for m, w in contents.model_weights.items()}
    corpus, _ = trained
    clip_file = next(iter(corpus.is10.values()))
    assert predict_clip_probabilities(models["audio_svm"], clip_file).sum() == pytest.approx(1.0)


def rewrite(source: Path, out: Path, change: Callable[[dict[str, bytes]], None], relist: bool = True) -> Path:
    """A copy of the bundle with its members changed by `change`; `relist`: the manifest's checksums
    updated to match (a forger's bundle), otherwise left as they were."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members.pop("manifest.json"))
    change(members)
    if relist:
        manifest["members"] = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def first_array(members: dict[str, bytes]) -> str:
    return next(name for name in sorted(members) if name.endswith(".npy"))


def pickled_array() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"__reduce__": "os.system"}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("case,change,relist,message", [
    ("extra member", lambda m: m.update({"models/audio_svm/extra.json": b"{}"}), False,
     "member models/audio_svm/extra.json is not in the manifest"),
    ("changed bytes", lambda m: m.update({"config.json": m["config.json"].replace(b"0.35", b"0.95")}), False,
     "member config.json does not match its checksum"),
    ("missing member", lambda m: m.pop(first_array(m)), False, "is in the manifest but missing"),
    ("missing model", lambda m: [m.pop(n) for n in list(m) if n.startswith("models/audio_lstm/")], True,
     "member models/audio_lstm/model.json is missing (the fusion uses it)"),
    ("pickled array", lambda m: m.update({first_array(m): pickled_array()}), True, "is not a plain NumPy array"),
    ("pickle as .npy", lambda m: m.update({first_array(m): pickle.dumps({"a": 1})}), True,
     "is not a plain NumPy array"),
    ("pickle as .json", lambda m: m.update({"metrics.json": pickle.dumps({"a": 1})}), True,
     "member metrics.json is not JSON"),
    ("pickle file", lambda m: m.update({"models/audio_svm/model.pkl": pickle.dumps({"a": 1})}), True,
     "member models/audio_svm/model.pkl is not an array, JSON or Markdown file"),
])
def test_tampered_bundles_are_refused_with_the_member_named(bundle_path, tmp_path, case, change, relist, message):
    tampered = rewrite(bundle_path, tmp_path / "tampered.zip", change, relist)
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_bundle(tampered)


def test_another_format_version_is_refused_and_another_avemotion_version_is_named(bundle_path, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setattr(bundle_read, "FORMAT_VERSION", bundle_read.FORMAT_VERSION + 1)  # the reader's
    with pytest.raises(BundleError, match=r"bundle format version 1 .* reads version 2 only"):
        read_bundle(bundle_path)
    monkeypatch.undo()
    monkeypatch.setattr(bundle_spec, "__version__", "0.0.1")
    contents = read_bundle(bundle_path)  # the same format: it loads, and says what differs
    assert any(line.startswith("avemotion: bundle written with 0.1.0, this is 0.0.1") for line in contents.differences())


def test_not_a_bundle_is_refused(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="not a readable zip file"):
        read_bundle(tmp_path / "junk.zip")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("data.pkl", pickle.dumps([1]))
    with pytest.raises(BundleError, match="no manifest.json: not an avemotion bundle"):
        read_bundle(tmp_path / "other.zip")
