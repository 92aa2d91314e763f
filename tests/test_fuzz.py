"""Damaged copies of real clips (tests/media_fuzz.py: flipped bytes, a damaged middle packet, zeroed
runs, truncation, duplicated blocks, junk appended, wrong extensions) through the workflow's
manifest, media, faces and audio stages, and through `avemotion predict`.

The workflow finishes (no job fails); every file is in the manifest or the quarantine, once; every
clip the manifest keeps has finite features or a quarantine reason that names it, on one line; a
clip whose decoder refuses a packet keeps the faces of its other frames. `predict` gives every
clip it cannot predict a reason and never a traceback.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from avemotion.artifacts import read_audio_features, read_tsv
from avemotion.config import load_config, merge_config
from avemotion.constants import FACE_TRACKS, MODELS
from avemotion.layout import AUDIO_FEATURES, FACE_STACK
from conftest import REPO, run_snakemake
from media_fuzz import DAMAGES, DamagedClip, write_clip_list, write_fuzz_corpus
import synthetic_corpus as synthetic

pytestmark = pytest.mark.slow

SEED = 0
COPIES_PER_ORIGINAL = 52  # x 4 originals: 208 damaged clips
SHARDS = 2
TARGETS = ("results/media/index.tsv", *(f"results/faces/{track}/index.tsv" for track in FACE_TRACKS),
           "results/audio/index.tsv")
TABLES = ("manifest.tsv", "quarantine.tsv", "media/index.tsv", *(f"faces/{t}/index.tsv" for t in FACE_TRACKS),
          "audio/index.tsv")
PREDICT_EVERY = 9  # every 9th damaged clip goes through predict (predict_sample)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[DamagedClip]:
    return write_fuzz_corpus(tmp_path_factory.mktemp("fuzz_clips"), SEED, COPIES_PER_ORIGINAL)


@pytest.fixture(scope="module")
def fuzz_run(corpus, tmp_path_factory) -> tuple[Path, dict]:
    """The manifest, media, faces and audio stages over the damaged clips (a ``list`` dataset)."""
    workdir = tmp_path_factory.mktemp("fuzz_run")
    clip_list = write_clip_list(workdir / "clips.csv", corpus)
    config = merge_config(load_config(), {"dataset": {"kind": "list", "path": str(clip_list)}, "shards": SHARDS})
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.monotonic()
    run_snakemake(workdir, "--cores", "2", *TARGETS, configfile=configfile, timeout=1800)
    print(f"fuzz: {len(corpus)} damaged clips through manifest, media, faces and audio in "
          f"{time.monotonic() - start:.0f} s")
    return workdir, config


def test_the_corpus_is_deterministic_and_has_every_kind(corpus, tmp_path):
    assert len(corpus) >= 200 and {clip.kind for clip in corpus} == set(DAMAGES)
    again = {clip.path.name: clip.path.read_bytes() for clip in write_fuzz_corpus(tmp_path, SEED, 3)}
    assert again == {clip.path.name: clip.path.read_bytes() for clip in corpus if clip.path.name in again}


def test_every_damaged_file_is_in_the_manifest_or_the_quarantine_once(fuzz_run, corpus):
    results = fuzz_run[0] / "results"
    manifest, quarantine = read_tsv(results / "manifest.tsv"), read_tsv(results / "quarantine.tsv")
    listed = sorted([row["path"] for row in manifest] + [row["path"] for row in quarantine])
    assert listed == sorted(str(clip.path) for clip in corpus)
    assert all(row["reason"] for row in quarantine)
    assert manifest and quarantine, "the corpus should hold both clips the probe keeps and clips it rejects"


def test_no_clip_was_quarantined_by_an_unexpected_error(fuzz_run):
    """A stage that raised on a clip quarantines it with the exception (:func:`avemotion.shards.run_each_clip`)
    and logs a traceback: the damaged clips must be judged by the stages' own checks instead."""
    results = fuzz_run[0] / "results"
    tables = [table for stage in ("media", *(f"faces/{t}" for t in FACE_TRACKS), "audio")
              for table in sorted((results / stage).glob("shard_*.tsv"))]
    assert len(tables) == SHARDS * (2 + len(FACE_TRACKS))
    for table in tables:
        assert not [row for row in read_tsv(table) if row["error"]], table
    for log in sorted((results / "logs").glob("**/*.log")):
        assert "Traceback" not in log.read_text(), log


def test_every_table_keeps_each_row_on_one_line(fuzz_run):
    """A reason quoting FFmpeg or a traceback must not break a row: every line has the header's cells."""
    results = fuzz_run[0] / "results"
    for table in TABLES:
        lines = (results / table).read_text().split("\n")
        assert lines[-1] == "" and "\r" not in "".join(lines), table
        widths = {len(line.split("\t")) for line in lines[:-1]}
        assert widths == {len(lines[0].split("\t"))}, (table, widths)


def test_every_kept_clip_has_finite_features_or_a_reason_that_names_it(fuzz_run, corpus):
    workdir, config = fuzz_run
    results = workdir / "results"
    manifest = {row["clip_id"]: row for row in read_tsv(results / "manifest.tsv")}
    indexes = {"media": "media/index.tsv", **{f"faces_{t}": f"faces/{t}/index.tsv" for t in FACE_TRACKS},
               "audio": "audio/index.tsv"}
    for stage, table in indexes.items():
        rows = {row["clip_id"]: row for row in read_tsv(results / table)}
        assert set(rows) == set(manifest), stage
        for clip_id, row in rows.items():
            if row["status"] != "ok":
                assert row["status"] == "quarantined" and clip_id in row["reason"], (stage, row)
    for clip_id in manifest:
        for track in FACE_TRACKS:
            assert_face_stack_finite(FACE_STACK.path(clip_id, SHARDS, workdir, track=track), clip_id)
        for feature, artifact in AUDIO_FEATURES.items():
            features = read_audio_features(artifact.path(clip_id, SHARDS, workdir))
            if features.ok:
                assert features.data.size and np.isfinite(features.data).all(), (clip_id, feature)
            else:
                assert clip_id in features.reason, (clip_id, feature, features.reason)


def assert_face_stack_finite(path: Path, clip_id: str) -> None:
    with h5py.File(path, "r") as stack:
        status, reason = str(stack.attrs["status"]), str(stack.attrs["reason"])
        if status != "ok":
            assert status == "quarantined" and clip_id in reason and "\n" not in reason, (path, reason)
            return
        n_faces = stack["faces"].shape[0]
        assert n_faces > 0 and stack["frame_index"].shape == (n_faces,), path
        for name in ("landmarks", "eye_corners", "scores"):
            assert np.isfinite(stack[name][:]).all(), (path, name)
        timeline = stack["timeline"][:]
        assert timeline.max() == n_faces - 1 and timeline.min() >= -1, path


def test_a_damaged_middle_packet_loses_frames_not_the_face_track(fuzz_run, corpus):
    """Every clip with one damaged packet in its middle that the probe keeps has its faces on both
    tracks; where the decoder refused packets (most of the damaged H.264 packets), the stack counts
    them and keeps the faces of the frames before and after: the coverage rule judges the clip."""
    workdir = fuzz_run[0]
    manifest = {row["clip_id"] for row in read_tsv(workdir / "results" / "manifest.tsv")}
    kept = [clip for clip in corpus if clip.kind == "flip_middle_packet" and clip.path.stem in manifest]
    skipped = set()
    for clip, track in ((clip, track) for clip in kept for track in FACE_TRACKS):
        with h5py.File(FACE_STACK.path(clip.path.stem, SHARDS, workdir, track=track), "r") as stack:
            assert stack.attrs["status"] == "ok", (clip, track, stack.attrs["reason"])
            # the frames before the damaged packet decode, and those from the next keyframe on
            assert stack.attrs["n_frames_decoded"] >= stack.attrs["n_unique_frames"] // 2, (clip, track)
            if stack.attrs.get("n_packets_skipped", 0) > 0:
                skipped.add(clip.path.stem)
    assert len(skipped) >= 3, f"only {sorted(skipped)} had a packet refused: the corpus no longer shows the case"


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory) -> Path:
    """A results folder of five tiny models trained a few steps on synthetic features (the real
    artifact layouts) and equal fusion weights: what predict loads from a finished run."""
    root = tmp_path_factory.mktemp("fuzz_models")
    results = root / "results"
    corpus = synthetic.write_corpus(root / "features", per_class={"train": 1, "val": 1}, face_size=32,
                                    n_timeline=64)
    return synthetic.train_five_models(corpus, results, synthetic.TINY_MODELS, {name: 1 / len(MODELS) for name in MODELS})


def predict_sample(corpus: list[DamagedClip]) -> list[DamagedClip]:
    """Every 9th damaged clip (9 is prime to the 8 kinds: each kind comes up) and every H.264 clip
    with a damaged middle packet (most of them have a packet the decoder refuses)."""
    middle_packets = [clip for clip in corpus if clip.kind == "flip_middle_packet" and clip.path.suffix == ".mp4"]
    return corpus[::PREDICT_EVERY] + [clip for clip in middle_packets if clip not in corpus[::PREDICT_EVERY]]


def test_predict_gives_each_damaged_clip_a_reason_and_never_a_traceback(corpus, tiny_results, tmp_path):
    sample = predict_sample(corpus)
    assert len(sample) >= 20 and {clip.kind for clip in sample} == set(DAMAGES)
    command = [sys.executable, "-m", "avemotion.cli", "predict", *map(str, (c.path for c in sample)),
               "--results", str(tiny_results), "--config", str(REPO / "config.yaml"), "--json"]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=1200)
    print(f"predict: {len(sample)} damaged clips in {time.monotonic() - start:.0f} s")
    assert "Traceback" not in result.stderr, result.stderr[-6000:]
    assert result.returncode == 1, result.stderr[-3000:]  # some damaged clip gets no prediction
    output = json.loads(result.stdout)
    assert [item["path"] for item in output] == [str(clip.path) for clip in sample]
    for clip, item in zip(sample, output):
        if item["status"] == "failed":
            assert item["label"] is None and item["messages"], (clip, item)
            assert str(clip.path) in item["messages"][0] or clip.path.stem in item["messages"][0], (clip, item)
        elif item["status"] == "partial":
            assert item["messages"], (clip, item)
        assert all("\n" not in message for message in item["messages"]), (clip, item)
        if clip.kind == "flip_middle_packet" and clip.path.suffix == ".mp4":
            assert all(item["models"][f"vgg_lstm_{track}"]["status"] == "ok" for track in FACE_TRACKS), (clip, item)
