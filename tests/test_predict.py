"""`avemotion predict`: new clips through the pipeline's own media, face and audio code,
the trained models and the fusion weights.

Fast tests: the fusion over the models that see a clip, and that predict and the pipeline's fusion
give the same fused row for a clip without a face, one without audio and one no model sees; the
shared per-clip prediction function against the predictions training wrote (synthetic inputs); bad
clips against tiny models trained on synthetic features. Slow tests (shared `demo_run`): `predict` on
the demo test clips gives the pipeline's own predictions, with the first models and in refit mode
(a copy of the run whose fusion refits); a clip re-encoded to XviD AVI and FLV1 gets exactly the
MP4's numbers where it decodes to the same input and near them elsewhere; bad inputs get their
messages.
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
import yaml

from avemotion.artifacts import read_manifest, read_predictions, write_predictions
from avemotion.config import load_config, merge_config
from avemotion.constants import CLASSES
from avemotion.fusion import align_predictions, fused_rows, load_predictions, run_fusion
from avemotion.models import (load_trained_model, predict_clip_probabilities)
from avemotion.predict import expand_clip_paths, fuse_available, predict_clips, Predictor
from avemotion.media import probe_clip
from conftest import DemoRun, run_snakemake
from media_factory import make_clip
import synthetic_corpus as synthetic

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)  # as the training jobs ran (models.threads: 1), so float32 sums in the same order
WEIGHTS = {"vgg_lstm_a": 0.35, "vgg_lstm_b": 0.15, "audio_svm": 0.25, "audio_lstm": 0.15, "inception_lstm": 0.10}
# Prediction tables keep 8 decimals (artifacts.write_predictions): a model row is off by up to 5e-9, a
# fused row, fused from rounded model rows and rounded again, by up to 1e-8.
TABLE_ROUNDING = 1e-8
# The CLI runs torch on every core, the training jobs on one: float32 (eps 1.2e-7) sums in another
# order; 1e-5 leaves a hundred eps for that and stays far below any difference between classes.
OTHER_THREADS = 1e-5
FACE_MODELS, AUDIO_MODELS = ("vgg_lstm_a", "vgg_lstm_b"), ("audio_svm", "audio_lstm", "inception_lstm")


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
    # float64: five products of numbers <= 1 summed in another order, a few eps (2.2e-16) apart
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
        assert np.allclose(fused, pipeline_file[clip_id]["probs"], atol=TABLE_ROUNDING, rtol=0), clip_id
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


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory) -> Path:
    """A results folder laid out like the pipeline's: five models trained on synthetic features in
    the real artifact layouts (faces, IS10, short-term, maps), their predictions and fusion weights."""
    root = tmp_path_factory.mktemp("synthetic")
    results = root / "results"
    corpus = synthetic.write_corpus(root / "features", per_class={"train": 2, "val": 1, "test": 1}, face_size=32,
                                    n_timeline=100, quarantine=("val_HA_00",))
    return synthetic.train_five_models(corpus, results, synthetic.TINY_MODELS, WEIGHTS)


@pytest.mark.parametrize("model,artifact", [("vgg_lstm_a", "faces/a"), ("audio_lstm", "audio/shortterm"),
                                            ("inception_lstm", "audio/maps"), ("audio_svm", "audio/is10")])
def test_loaded_model_predicts_what_training_wrote(synthetic_run, model, artifact):
    """`load_trained_model` + `predict_clip_probabilities` (what predict runs) reproduce the
    predictions training wrote, clip by clip."""
    trained = load_trained_model(synthetic_run / "models" / model / "checkpoint.pt", "cpu")
    rows = read_predictions(synthetic_run / "predictions" / f"{model}.tsv")
    assert len(rows) == 14
    for row in rows:
        path = synthetic_run.parent / "features" / artifact / f"{row['clip_id']}.h5"
        if row["status"] != "ok":
            continue
        probs = predict_clip_probabilities(trained, path)
        assert np.allclose(probs, row["probs"], atol=TABLE_ROUNDING, rtol=0), row["clip_id"]


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


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-v", "error", *args], check=True)


def demo_clips(demo_run, split: str = "test") -> list[tuple[dict, Path]]:
    rows = [row for row in read_manifest(demo_run.results / "manifest.tsv") if row["split"] == split]
    return [(row, Path(row["path"]) if Path(row["path"]).is_absolute() else demo_run.workdir / row["path"])
            for row in rows]


def rows_by_clip(path: Path) -> dict[str, dict]:
    return {row["clip_id"]: row for row in read_predictions(path)}


def pipeline_predictions(demo_run) -> dict[str, dict[str, dict]]:
    """{model or "fusion": {clip_id: prediction row}} of the pipeline."""
    weights = json.loads((demo_run.results / "fusion" / "weights.json").read_text())
    return {model: rows_by_clip(demo_run.results / "predictions" / f"{model}.tsv")
            for model in [*weights["models"], "fusion"]}


def assert_the_pipelines_predictions(clips, predictions, per_model: dict[str, dict[str, dict]],
                                     fused: dict[str, dict]) -> None:
    """`predictions` of `clips` are the pipeline's: each model's probabilities its row in `per_model`
    ({model: {clip_id: row}}), the fused ones the row in `fused`, to the tables' 8 decimals. A clip a
    model could not see is unavailable to it in both and fused over the other models in both (one
    fusion rule); a clip no model sees has no prediction in both."""
    assert len(predictions) == len(clips)
    for (row, _), prediction in zip(clips, predictions):
        clip_id = row["clip_id"]
        pipeline_ok = {m: rows[clip_id]["status"] == "ok" for m, rows in per_model.items()}
        for model, ok in pipeline_ok.items():
            ours = prediction.models[model]
            assert (ours.status == "ok") == ok, (clip_id, model, ours.reason)
            if ok:
                assert np.allclose(ours.probs, per_model[model][clip_id]["probs"], atol=TABLE_ROUNDING, rtol=0), (
                    clip_id, model)
        pipeline_fused = fused[clip_id]["probs"]
        if pipeline_fused is None:
            assert not any(pipeline_ok.values()) and prediction.status == "failed" and prediction.probs is None
            continue
        assert prediction.status == ("ok" if all(pipeline_ok.values()) else "partial")
        assert np.allclose(prediction.probs, pipeline_fused, atol=TABLE_ROUNDING, rtol=0), clip_id
        assert prediction.label == CLASSES[int(np.argmax(prediction.probs))]
        assert prediction.label == CLASSES[int(np.argmax(pipeline_fused))]


@pytest.mark.slow
def test_predict_gives_the_pipeline_predictions_on_the_demo_test_clips(demo_run, tmp_path, monkeypatch):
    clips = demo_clips(demo_run)
    assert clips
    expected = pipeline_predictions(demo_run)
    fused = expected.pop("fusion")
    predictions = predict_clips([path for _, path in clips], demo_run.results, demo_run.config)
    assert_the_pipelines_predictions(clips, predictions, expected, fused)
    assert any(p.models["vgg_lstm_b"].status == "ok" for p in predictions)  # track B's own model

    # the run's bundle, copied into an empty directory with no results/ and no config.yaml: the same numbers
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    bundle = shutil.copy(demo_run.results / "bundle" / "model.zip", empty / "model.zip")
    monkeypatch.chdir(empty)
    from_bundle = predict_clips([path for _, path in clips], bundle=bundle)
    for clip, ours, theirs in zip(clips, from_bundle, predictions):
        assert ours.status == theirs.status and ours.messages == theirs.messages, clip[0]["clip_id"]
        assert (ours.probs is None and theirs.probs is None) or np.array_equal(ours.probs, theirs.probs)
        for model, prediction in theirs.models.items():
            assert ours.models[model].status == prediction.status
            assert prediction.probs is None or np.array_equal(ours.models[model].probs, prediction.probs)
    (_, clip), prediction = next((c, p) for c, p in zip(clips, predictions) if p.probs is not None)
    result = subprocess.run([sys.executable, "-m", "avemotion.cli", "predict", str(clip), "--bundle", "model.zip",
                             "--json"], capture_output=True, text=True, cwd=empty, timeout=900,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "note:" not in result.stderr  # written by this very avemotion and libraries
    item = json.loads(result.stdout)[0]
    assert np.allclose([item["probabilities"][c] for c in CLASSES], prediction.probs, atol=OTHER_THREADS, rtol=0)
    assert sorted(path.name for path in empty.iterdir()) == ["model.zip"]  # predict wrote nothing there


# A few steps of each stage for the refit models: the refit test checks which models predict loads
# and that it gives the pipeline's numbers, not how well they learned.
REFIT_SCHEDULE = {"vgg_lstm": {"frame_iterations": 20, "sequence_iterations": 6},
                  "audio_lstm": {"iterations": 10},
                  "inception_lstm": {"map_iterations": 10, "sequence_iterations": 10}}


@pytest.fixture(scope="module")
def refit_run(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """A copy of the finished demo run in refit mode (paper 3.2): `fusion: {refit: true}` in its
    config, the five models retrained on train+val into models_refit/ (on REFIT_SCHEDULE) and the
    fusion and the bundle (the refit models' one) run again, nothing else. Rerun triggers mtime and
    input: the fusion's new inputs (the refit predictions) rerun it, while the shorter schedule in the
    config, a params change, leaves the copied first models alone."""
    workdir = tmp_path_factory.mktemp("predict_refit") / "run"
    shutil.copytree(demo_run.workdir, workdir, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    config = merge_config(demo_run.config, {"fusion": {"refit": True}, "models": REFIT_SCHEDULE})
    configfile = workdir / demo_run.configfile.name
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    run_snakemake(workdir, "--cores", "2", "--rerun-triggers", "mtime", "input", "--", "results/fusion/weights.json",
                  "results/bundle/model.zip", configfile=configfile)
    return DemoRun(workdir=workdir, configfile=configfile, config=config)


@pytest.mark.slow
def test_predict_in_refit_mode_gives_the_refit_pipeline_predictions(refit_run):
    """weights.json says `refit: true`: predict loads models_refit/ (the models retrained on
    train+val, paper 3.2) and gives the pipeline's refit-mode test predictions, each model's row of
    predictions_refit/ and the fused test row (the val-chosen weights over the refit models)."""
    results = refit_run.results
    weights = json.loads((results / "fusion" / "weights.json").read_text())
    assert weights["refit"] is True
    refit = {m: rows_by_clip(results / "predictions_refit" / f"{m}.tsv") for m in weights["models"]}
    first = {m: rows_by_clip(results / "predictions" / f"{m}.tsv") for m in weights["models"]}
    clips = demo_clips(refit_run)
    assert [row["clip_id"] for row, _ in clips] == list(refit["vgg_lstm_b"])
    clips = clips[::4]  # four clips, three face groups: the plain run's test goes through all of them
    predictor = Predictor(results, refit_run.config)
    assert predictor.refit
    predictions = [predictor.predict(path) for _, path in clips]
    assert_the_pipelines_predictions(clips, predictions, refit, rows_by_clip(results / "predictions" / "fusion.tsv"))
    # the refit run's bundle holds the refit models: the same numbers
    from_bundle = Predictor(bundle=results / "bundle" / "model.zip")
    assert from_bundle.refit
    for (_, path), prediction in zip(clips, predictions):
        ours = from_bundle.predict(path)
        assert (ours.probs is None and prediction.probs is None) or np.array_equal(ours.probs, prediction.probs)
    assert any(p.models["vgg_lstm_b"].status == "ok" for p in predictions)  # track B's own refit model
    for model, rows in refit.items():  # other models than the first: the rows above are models_refit/'s
        assert any(row["probs"] is not None and first[model][clip_id]["probs"] is not None
                   and not np.allclose(row["probs"], first[model][clip_id]["probs"], atol=TABLE_ROUNDING, rtol=0)
                   for clip_id, row in rows.items()), model


@pytest.fixture(scope="module")
def reencoded(demo_run, tmp_path_factory) -> dict[str, tuple]:
    """The first demo test clip every model sees, as its MP4 and re-encoded by the ffmpeg of
    imageio_ffmpeg: an AVI with XviD video and the MP4's decoded audio as float PCM, and an FLV with
    FLV1 (Sorenson H.263) video and the MP4's AAC packets; all three predicted by one Predictor.
    {"mp4" | "avi" | "flv": (path, prediction)}."""
    expected = pipeline_predictions(demo_run)
    _, clip = next((row, path) for row, path in demo_clips(demo_run)
                   if all(rows[row["clip_id"]]["status"] == "ok" for rows in expected.values()))
    folder = tmp_path_factory.mktemp("containers")
    avi, flv = folder / f"{clip.stem}.avi", folder / f"{clip.stem}.flv"
    # quantiser 2 of 1-31: the near-transparent end of both codecs' scale
    ffmpeg("-i", str(clip), "-c:v", "mpeg4", "-vtag", "XVID", "-q:v", "2", "-c:a", "pcm_f32le", str(avi))
    ffmpeg("-i", str(clip), "-c:v", "flv", "-q:v", "2", "-c:a", "copy", str(flv))
    predictor = Predictor(demo_run.results, demo_run.config)
    return {name: (path, predictor.predict(path)) for name, path in (("mp4", clip), ("avi", avi), ("flv", flv))}


@pytest.mark.slow
def test_avi_and_flv_clips_are_predicted_like_the_mp4(reencoded):
    """Exactly the MP4's numbers where a copy decodes to the MP4's input; near them elsewhere.

    Exact: the AVI's audio is the MP4's decoded samples stored as float PCM, a lossless coding of the
    same samples, so the 16-kHz wav is the same and the three audio models give exactly the MP4's
    probabilities. Near: both copies re-encode the video (XviD and FLV1 are other codecs than the
    MP4's H.264), so the face models see other pixels, though the same frames (count, rate,
    duration: the same 60-fps timeline). The FLV carries the MP4's AAC packets unchanged, but FLV has
    no edit list: the decoder keeps the 1024 priming samples and the last frame's padding that the
    MP4's edit list trims, so its audio starts 21-23 ms before the MP4's and runs longer. How far the
    demo's small models move on such a change is theirs, not predict's (measured on the demo's test
    clips: up to 0.15 in a class for the face models, 0.55 for the SVM on an FLV); what the copy must keep is that it is the same
    clip: every model sees it, and each model's probabilities, and the fused ones, lie nearer the
    MP4's than chance (1/7 per class) does, in total variation."""
    (mp4_path, mp4), (avi_path, avi), (flv_path, flv) = reencoded["mp4"], reencoded["avi"], reencoded["flv"]
    facts = probe_clip(mp4_path)
    for path in (avi_path, flv_path):
        copy = probe_clip(path)
        assert (copy.n_frames, copy.fps, copy.duration_s, copy.width, copy.height) == (
            facts.n_frames, facts.fps, facts.duration_s, facts.width, facts.height), path
    assert mp4.status == avi.status == flv.status == "ok", (avi.messages, flv.messages)
    assert avi.clip_id == flv.clip_id == mp4.clip_id
    for model in AUDIO_MODELS:
        assert np.array_equal(avi.models[model].probs, mp4.models[model].probs), model
    chance = np.full(len(CLASSES), 1 / len(CLASSES))
    for copy, near in ((avi, FACE_MODELS), (flv, FACE_MODELS + AUDIO_MODELS)):
        assert all(copy.models[m].status == "ok" for m in FACE_MODELS + AUDIO_MODELS), copy.messages
        pairs = [(m, copy.models[m].probs, mp4.models[m].probs) for m in near] + [("fusion", copy.probs, mp4.probs)]
        for name, ours, theirs in pairs:
            assert total_variation(ours, theirs) < total_variation(chance, theirs), (copy.path, name, ours, theirs)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


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
        assert np.allclose([item["probabilities"][c] for c in CLASSES], pipeline["probs"], atol=OTHER_THREADS, rtol=0)
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
            assert np.allclose(ours, expected[model][row_a["clip_id"]]["probs"], atol=OTHER_THREADS, rtol=0)
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
