"""`avemotion predict`: new clips through the pipeline's own media, face and audio code,
the trained models and the fusion weights.

Fast tests: the fusion over the models that see a clip, and that predict and the pipeline's fusion
give the same fused row for a clip without a face, one without audio and one no model sees; the
shared per-clip prediction function against the predictions training wrote (synthetic inputs); bad
clips against tiny models trained on synthetic features. Slow tests (shared `demo_run`): `predict` on
the demo test clips gives the pipeline's own predictions, and bad inputs get their messages.
"""
from __future__ import annotations

import json
import shutil
import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from avemotion.artifacts import read_manifest, read_predictions, write_predictions
from avemotion.config import load_config
from avemotion.constants import CLASSES
from avemotion.fusion import align_predictions, fused_rows, load_predictions, run_fusion
from avemotion.models import (load_trained_model, predict_clip_probabilities, train_audio_lstm,
                              train_audio_svm, train_inception_lstm, train_vgg_lstm)
from avemotion.predict import expand_clip_paths, fuse_available, predict_clips, Predictor
from conftest import model_outputs
from media_factory import make_clip
import synthetic_corpus as synthetic

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)
WEIGHTS = {"vgg_lstm_a": 0.35, "vgg_lstm_b": 0.15, "audio_svm": 0.25, "audio_lstm": 0.15, "inception_lstm": 0.10}



# ------------------------------------------------------------------ fusion over available models

def random_probs(rng: np.random.Generator) -> np.ndarray:
    values = rng.random(len(CLASSES))
    return values / values.sum()


def test_all_models_available_is_the_pipeline_fusion():
    rng = np.random.default_rng(0)
    probs = {m: random_probs(rng) for m in WEIGHTS}
    fused, used, note = fuse_available(probs, WEIGHTS)
    tables = {m: [{"clip_id": "c", "split": "test", "label": "", "probs": p, "status": "ok", "reason": ""}]
              for m, p in probs.items()}
    [expected] = fused_rows(align_predictions(tables), np.array(list(WEIGHTS.values())))
    assert np.array_equal(fused, expected["probs"])
    assert np.allclose(fused, sum(WEIGHTS[m] * probs[m] for m in WEIGHTS), atol=1e-15, rtol=0)
    assert used == pytest.approx(WEIGHTS) and note == "" == expected["reason"]


def test_missing_modality_renormalises_the_weights_over_the_available_models():
    rng = np.random.default_rng(1)
    probs = {m: random_probs(rng) for m in WEIGHTS}
    for model in ("audio_svm", "audio_lstm", "inception_lstm"):
        probs[model] = None
    fused, used, note = fuse_available(probs, WEIGHTS)
    assert used == pytest.approx({"vgg_lstm_a": 0.7, "vgg_lstm_b": 0.3, "audio_svm": 0, "audio_lstm": 0,
                                  "inception_lstm": 0})
    assert np.allclose(fused, 0.7 * probs["vgg_lstm_a"] + 0.3 * probs["vgg_lstm_b"])
    assert fused.sum() == pytest.approx(1.0)
    assert "without audio_svm, audio_lstm, inception_lstm" in note and "renormalised" in note


def test_available_models_with_zero_weight_get_equal_weights_and_no_model_gives_none():
    rng = np.random.default_rng(2)
    weights = {"vgg_lstm_a": 1.0, "audio_svm": 0.0, "audio_lstm": 0.0}
    probs = {"vgg_lstm_a": None, "audio_svm": random_probs(rng), "audio_lstm": random_probs(rng)}
    fused, used, note = fuse_available(probs, weights)
    assert np.allclose(fused, (probs["audio_svm"] + probs["audio_lstm"]) / 2)
    assert used["audio_svm"] == used["audio_lstm"] == 0.5 and "equal weights" in note
    fused, used, note = fuse_available({m: None for m in weights}, weights)
    assert fused is None and "no fused model" in note


FACE_MODELS, AUDIO_MODELS = ("vgg_lstm_a", "vgg_lstm_b"), ("audio_svm", "audio_lstm", "inception_lstm")
UNSEEN_CLIPS = {"no_face": FACE_MODELS, "no_audio": AUDIO_MODELS, "nothing": FACE_MODELS + AUDIO_MODELS}


def write_model_tables(folder: Path, seed: int = 3) -> dict[str, Path]:
    """Per-model prediction tables as training writes them: 21 labelled val clips and 7 test clips
    every model saw, then for each split a clip without a face (vgg_lstm_a/b quarantined), one
    without audio (the three audio models quarantined) and one no model saw."""
    rng = np.random.default_rng(seed)
    clips = [(f"{split}_{i:02d}", split, CLASSES[i % 7]) for split, count in (("val", 21), ("test", 7))
             for i in range(count)]
    clips += [(f"{split}_{name}", split, "HA") for split in ("val", "test") for name in UNSEEN_CLIPS]
    paths = {}
    for model in WEIGHTS:
        rows = []
        for clip_id, split, label in clips:
            unseen = model in UNSEEN_CLIPS.get(clip_id.split("_", 1)[1], ())
            logits = rng.normal(size=7) + 1.5 * (np.arange(7) == CLASSES.index(label))
            rows.append({"clip_id": clip_id, "split": split, "label": label,
                         "probs": None if unseen else np.exp(logits) / np.exp(logits).sum(),
                         "status": "quarantined" if unseen else "ok",
                         "reason": f"clip {clip_id}: no input for {model}" if unseen else ""})
        paths[model] = folder / f"{model}.tsv"
        write_predictions(paths[model], rows)
    return paths


def predict_fusion(paths: dict[str, Path], weights: dict[str, float]) -> dict[str, tuple]:
    """{clip_id: fuse_available(...)} on the per-model probabilities of the tables (None: unseen)."""
    tables = {model: {row["clip_id"]: row["probs"] for row in read_predictions(path)} for model, path in paths.items()}
    return {clip_id: fuse_available({m: tables[m][clip_id] for m in weights}, weights)
            for clip_id in tables[next(iter(tables))]}


def test_predict_and_the_pipeline_fuse_unseen_clips_the_same(tmp_path):
    """The pipeline's fusion stage (run_fusion on TSVs, weights grid-searched on val) and predict's
    fusion on the same per-model probabilities give equal fused rows: the no-face and no-audio clips
    renormalised over the models that saw them, the clip no model saw without a prediction."""
    paths = write_model_tables(tmp_path)
    run_fusion(paths, tmp_path / "weights.json", tmp_path / "fusion.tsv", tmp_path / "metrics.json", grid_step=0.1)
    weights = json.loads((tmp_path / "weights.json").read_text())["weights"]
    pipeline_file = {row["clip_id"]: row for row in read_predictions(tmp_path / "fusion.tsv")}
    pipeline = {row["clip_id"]: row for row in
                fused_rows(load_predictions(paths), np.array([weights[m] for m in WEIGHTS]))}
    predicted = predict_fusion(paths, weights)
    assert set(predicted) == set(pipeline) == set(pipeline_file)
    for clip_id, (fused, used, note) in predicted.items():
        row = pipeline[clip_id]
        if fused is None:
            assert row["probs"] is None and pipeline_file[clip_id]["probs"] is None
            assert row["status"] == pipeline_file[clip_id]["status"] == "quarantined"
            continue
        assert np.array_equal(fused, row["probs"]), clip_id
        assert np.allclose(fused, pipeline_file[clip_id]["probs"], atol=1e-8, rtol=0), clip_id
        assert CLASSES[int(np.argmax(fused))] == CLASSES[int(np.argmax(pipeline_file[clip_id]["probs"]))]
        assert row["status"] == "ok" and row["reason"].startswith(note)
    for split in ("val", "test"):
        assert predicted[f"{split}_nothing"][0] is None
        for name, unseen in (("no_face", FACE_MODELS), ("no_audio", AUDIO_MODELS)):
            fused, used, note = predicted[f"{split}_{name}"]
            assert fused is not None and fused.sum() == pytest.approx(1.0)
            assert all(used[m] == 0 for m in unseen) and sum(used.values()) == pytest.approx(1.0)
            assert f"predicted without {', '.join(unseen)}" in note


def test_predict_and_the_pipeline_agree_when_the_seen_models_have_weight_zero(tmp_path):
    """Weights only on the face models: the no-face clip falls back to equal weights over the audio
    models, in predict and in the pipeline's rows alike."""
    paths = write_model_tables(tmp_path, seed=4)
    weights = {"vgg_lstm_a": 0.6, "vgg_lstm_b": 0.4, "audio_svm": 0.0, "audio_lstm": 0.0, "inception_lstm": 0.0}
    pipeline = {row["clip_id"]: row for row in fused_rows(load_predictions(paths), np.array(list(weights.values())))}
    predicted = predict_fusion(paths, weights)
    fused, used, note = predicted["val_no_face"]
    assert used == pytest.approx({"vgg_lstm_a": 0, "vgg_lstm_b": 0, "audio_svm": 1 / 3, "audio_lstm": 1 / 3,
                                  "inception_lstm": 1 / 3})
    assert "fused with equal weights" in note and "fused with equal weights" in pipeline["val_no_face"]["reason"]
    for clip_id, (fused, _, _) in predicted.items():
        assert (fused is None) == (pipeline[clip_id]["probs"] is None), clip_id
        if fused is not None:
            assert np.array_equal(fused, pipeline[clip_id]["probs"]), clip_id


def test_cuda_without_a_cuda_device_is_one_line_and_no_traceback(tmp_path):
    command = [sys.executable, "-m", "avemotion.cli", "predict", str(tmp_path / "clip.mp4"), "--device", "cuda",
               "--results", str(tmp_path / "results")]
    hidden = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # no CUDA device, on a GPU machine too
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300, env=hidden)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "avemotion predict: --device is 'cuda' but no CUDA device is available"], result.stderr


def test_folders_expand_to_their_video_files(tmp_path):
    for name in ("b/clip2.mp4", "a/clip1.AVI", "a/notes.txt", "clip0.mkv"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"")
    single = tmp_path / "single.mp4"
    assert expand_clip_paths([tmp_path / "in", single]) == [
        tmp_path / "in" / "a" / "clip1.AVI", tmp_path / "in" / "b" / "clip2.mp4", tmp_path / "in" / "clip0.mkv", single]


# ------------------------------------------------------------------ trained on synthetic features

TINY = {
    "vgg_lstm": {"width_multiplier": 0.125, "input_size": 32, "frame_iterations": 4, "sequence_iterations": 4,
                 "frame_batch_size": 8, "sequence_batch_size": 2},
    "audio_lstm": {"iterations": 6, "hidden": 16},
    "inception_lstm": {"width_multiplier": 0.0625, "map_iterations": 3, "sequence_iterations": 3, "batch_size": 4,
                       "sequence_batch_size": 2, "lr_step_iterations": 2},
}


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory) -> Path:
    """A results folder laid out like the pipeline's: five models trained on synthetic features in
    the real artifact layouts (faces, IS10, short-term, maps), their predictions and fusion weights."""
    root = tmp_path_factory.mktemp("synthetic")
    results = root / "results"
    corpus = synthetic.write_corpus(root / "features", per_class={"train": 2, "val": 1, "test": 1}, face_size=32,
                                    n_timeline=100, quarantine=("val_HA_00",))
    config = load_config()["models"]
    for name, values in TINY.items():
        config[name].update(values)
    manifest = corpus.manifest

    train_vgg_lstm(manifest, corpus.faces, model_outputs(results, "vgg_lstm_a"), config["vgg_lstm"],
                   config["training"], name="vgg_lstm_a")
    shutil.copytree(results / "models" / "vgg_lstm_a", results / "models" / "vgg_lstm_b")
    train_audio_lstm(manifest, corpus.shortterm, model_outputs(results, "audio_lstm"), config["audio_lstm"],
                     config["training"])
    train_inception_lstm(manifest, corpus.maps, model_outputs(results, "inception_lstm"), config["inception_lstm"],
                         config["training"])
    train_audio_svm(manifest, corpus.is10, model_outputs(results, "audio_svm", "model.joblib"), config["audio_svm"],
                    config["training"])
    (results / "fusion").mkdir()
    (results / "fusion" / "weights.json").write_text(json.dumps(
        {"models": list(WEIGHTS), "weights": WEIGHTS, "grid_step": 0.05, "refit": False}))
    return results


@pytest.mark.parametrize("model,artifact", [("vgg_lstm_a", "faces/a"), ("audio_lstm", "audio/shortterm"),
                                            ("inception_lstm", "audio/maps"), ("audio_svm", "audio/is10")])
def test_loaded_model_predicts_what_training_wrote(synthetic_run, model, artifact):
    """`load_trained_model` + `predict_clip_probabilities` (what predict runs) reproduce the
    predictions training wrote, clip by clip."""
    name = "model.joblib" if model == "audio_svm" else "checkpoint.pt"
    trained = load_trained_model(synthetic_run / "models" / model / name, "cpu")
    rows = read_predictions(synthetic_run / "predictions" / f"{model}.tsv")
    assert len(rows) == 14
    for row in rows:
        path = synthetic_run.parent / "features" / artifact / f"{row['clip_id']}.h5"
        if row["status"] != "ok":
            continue
        probs = predict_clip_probabilities(trained, path)
        assert np.allclose(probs, row["probs"], atol=1e-6, rtol=0), row["clip_id"]


def test_unreadable_clips_get_a_message_and_the_others_still_run(synthetic_run, tmp_path):
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    predictor = Predictor(synthetic_run, load_config())
    predictions = [predictor.predict(p) for p in (zero, tmp_path / "missing.mp4", text)]
    assert [p.status for p in predictions] == ["failed"] * 3
    assert all(p.probs is None and p.label is None for p in predictions)
    assert "zero-byte file" in predictions[0].messages[0] and str(zero) in predictions[0].messages[0]
    assert "file not found" in predictions[1].messages[0]
    assert "cannot open as a media file" in predictions[2].messages[0]


def test_clip_without_face_or_audio_fails_with_both_reasons(synthetic_run, tmp_path):
    clip = make_clip(tmp_path / "pattern_silent.mp4", seconds=0.6, audio=False)
    [prediction] = predict_clips([clip], synthetic_run, load_config())
    assert prediction.status == "failed" and prediction.probs is None
    text = "\n".join(prediction.messages)
    assert "no face detected" in text and "no audio stream" in text
    assert {m.status for m in prediction.models.values()} == {"unavailable"}


def test_clip_without_face_is_predicted_from_the_audio_models(synthetic_run, tmp_path):
    """A test pattern has no face: the fused result comes from the three audio models alone."""
    clip = make_clip(tmp_path / "pattern.mp4", seconds=1.2)
    [prediction] = predict_clips([clip], synthetic_run, load_config())
    assert prediction.status == "partial", prediction.messages
    faces = [prediction.models[m] for m in ("vgg_lstm_a", "vgg_lstm_b")]
    audio = [prediction.models[m] for m in ("audio_svm", "audio_lstm", "inception_lstm")]
    assert all(m.status == "unavailable" and m.probs is None and m.used_weight == 0 for m in faces)
    assert all("no face detected" in m.reason for m in faces)
    assert all(m.status == "ok" for m in audio)
    expected = sum(WEIGHTS[m.model] * m.probs for m in audio) / sum(WEIGHTS[m.model] for m in audio)
    assert np.allclose(prediction.probs, expected) and prediction.probs.sum() == pytest.approx(1.0)
    assert any("predicted without vgg_lstm_a, vgg_lstm_b" in message for message in prediction.messages)
    assert set(prediction.timings) >= {"probe", "media", "faces", "audio", "models", "fusion"}


# ------------------------------------------------------------------ the demo run (slow)

def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-v", "error", *args], check=True)


def demo_clips(demo_run, split: str = "test") -> list[tuple[dict, Path]]:
    rows = [row for row in read_manifest(demo_run.results / "manifest.tsv") if row["split"] == split]
    return [(row, Path(row["path"]) if Path(row["path"]).is_absolute() else demo_run.workdir / row["path"])
            for row in rows]


def pipeline_predictions(demo_run) -> dict[str, dict[str, dict]]:
    """{model or "fusion": {clip_id: prediction row}} of the pipeline."""
    weights = json.loads((demo_run.results / "fusion" / "weights.json").read_text())
    return {model: {row["clip_id"]: row for row in read_predictions(demo_run.results / "predictions" / f"{model}.tsv")}
            for model in [*weights["models"], "fusion"]}


@pytest.mark.slow
def test_predict_gives_the_pipeline_predictions_on_the_demo_test_clips(demo_run):
    clips = demo_clips(demo_run)
    assert clips
    expected = pipeline_predictions(demo_run)
    weights = json.loads((demo_run.results / "fusion" / "weights.json").read_text())["weights"]
    predictions = predict_clips([path for _, path in clips], demo_run.results, demo_run.config)
    for (row, _), prediction in zip(clips, predictions):
        clip_id = row["clip_id"]
        pipeline_ok = {m: expected[m][clip_id]["status"] == "ok" for m in weights}
        for model, ok in pipeline_ok.items():
            ours = prediction.models[model]
            assert (ours.status == "ok") == ok, (clip_id, model, ours.reason)
            if ok:
                assert np.allclose(ours.probs, expected[model][clip_id]["probs"], atol=1e-5, rtol=0), (clip_id, model)
        # one fusion rule: a clip some models cannot see is fused over the others in both
        pipeline_fused = expected["fusion"][clip_id]["probs"]
        if pipeline_fused is None:
            assert not any(pipeline_ok.values()) and prediction.status == "failed" and prediction.probs is None
            continue
        assert prediction.status == ("ok" if all(pipeline_ok.values()) else "partial")
        assert np.allclose(prediction.probs, pipeline_fused, atol=1e-5, rtol=0), clip_id
        assert prediction.label == CLASSES[int(np.argmax(prediction.probs))]
        assert prediction.label == CLASSES[int(np.argmax(pipeline_fused))]


@pytest.mark.slow
def test_cli_json_output_and_bad_inputs(demo_run, tmp_path):
    """The CLI on two demo test clips, a zero-byte file, a demo clip without its audio track, one
    with 50 ms of audio and a test pattern without a face (a folder holds the last three)."""
    (row_a, clip_a), (row_b, clip_b) = demo_clips(demo_run)[:2]
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    folder = tmp_path / "bad"
    folder.mkdir()
    ffmpeg("-i", str(clip_a), "-an", "-c:v", "copy", str(folder / "1_no_audio.mp4"))
    ffmpeg("-i", str(clip_a), "-c:v", "copy", "-af", "atrim=end=0.05", "-c:a", "aac", str(folder / "2_short_audio.mp4"))
    make_clip(folder / "3_no_face.mp4", seconds=1.2)
    command = [sys.executable, "-m", "avemotion.cli", "predict", str(clip_a), str(zero), str(folder), str(clip_b),
               "--results", str(demo_run.results), "--config", str(demo_run.configfile), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=900)
    assert result.returncode == 1, result.stderr[-3000:]  # the zero-byte file got no prediction
    output = json.loads(result.stdout)
    assert [Path(item["path"]).name for item in output] == [
        clip_a.name, "zero.mp4", "1_no_audio.mp4", "2_short_audio.mp4", "3_no_face.mp4", clip_b.name]
    by_name = {Path(item["path"]).name: item for item in output}
    expected = pipeline_predictions(demo_run)
    for row, clip in ((row_a, clip_a), (row_b, clip_b)):
        item = by_name[clip.name]
        pipeline = expected["fusion"][row["clip_id"]]
        assert item["label"] == CLASSES[int(np.argmax(pipeline["probs"]))]
        assert np.allclose([item["probabilities"][c] for c in CLASSES], pipeline["probs"], atol=1e-5, rtol=0)
        assert set(item["models"]) == set(expected) - {"fusion"}
    assert by_name["zero.mp4"]["status"] == "failed" and by_name["zero.mp4"]["label"] is None
    assert "zero-byte file" in by_name["zero.mp4"]["messages"][0]

    no_audio = by_name["1_no_audio.mp4"]
    assert no_audio["status"] == "partial"
    for model in ("audio_svm", "audio_lstm", "inception_lstm"):
        assert no_audio["models"][model]["status"] == "unavailable"
        assert "no audio stream" in no_audio["models"][model]["reason"]
    for model in ("vgg_lstm_a", "vgg_lstm_b"):  # same video: the face models' numbers are the pipeline's
        if expected[model][row_a["clip_id"]]["status"] == "ok":
            ours = [no_audio["models"][model]["probabilities"][c] for c in CLASSES]
            assert np.allclose(ours, expected[model][row_a["clip_id"]]["probs"], atol=1e-5, rtol=0)
    assert any("predicted without audio_svm, audio_lstm, inception_lstm" in m for m in no_audio["messages"])

    short = by_name["2_short_audio.mp4"]
    assert short["status"] == "partial"
    assert all("too short" in short["models"][m]["reason"] or "shorter than" in short["models"][m]["reason"]
               for m in ("audio_svm", "audio_lstm", "inception_lstm")), short["models"]

    no_face = by_name["3_no_face.mp4"]
    assert no_face["status"] == "partial" and no_face["label"] in CLASSES
    for model in ("vgg_lstm_a", "vgg_lstm_b"):
        assert no_face["models"][model]["status"] == "unavailable"
        assert "no face detected" in no_face["models"][model]["reason"]


@pytest.mark.slow
def test_cli_table_output(demo_run):
    (_, clip), = demo_clips(demo_run)[:1]
    command = [sys.executable, "-m", "avemotion.cli", "predict", str(clip), "--results", str(demo_run.results),
               "--config", str(demo_run.configfile)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{clip}: ")
    assert [line.split()[0] for line in lines[2:8]] == [
        "vgg_lstm_a", "vgg_lstm_b", "audio_svm", "audio_lstm", "inception_lstm", "fusion"]
