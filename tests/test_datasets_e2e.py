"""The whole DAG on each dataset-shaped fixture: AFEW (unlabelled Test_AFEW/, track B from the
organisers' faces, refit fusion, the EmotiW submission), RAVDESS and CREMA-D (actor splits from a
split file). One Snakemake run per dataset (a module-scoped fixture), manifest to report, on a few
~1.2-s clips with a handful of training steps (tests/datasets_e2e_config.yaml): the checks are
the accounting of every file, every model's predictions, the fusion, the report and the submission."""
from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from avemotion.artifacts import read_predictions, read_tsv
from avemotion.config import load_config, merge_config
from avemotion.constants import CLASSES, EMOTIW_EMOTIONS, MODELS
from avemotion.demo import write_clip
from avemotion.layout import FACE_STACK
from conftest import REPO, run_snakemake
from dag_plan import assert_nothing_planned
from dataset_fixtures import AFEW_MP3_ENCODING, Fixture, write_afew_fixture, write_cremad_fixture, \
    write_ravdess_fixture

pytestmark = pytest.mark.slow

E2E_CONFIG = REPO / "tests" / "datasets_e2e_config.yaml"
DURATION_S = (1.1, 1.3)
TIMEOUT_S = 900


@dataclass
class DatasetRun:
    fixture: Fixture
    files: list[Path]  # every media file written into the dataset folder
    workdir: Path
    config: dict

    @property
    def results(self) -> Path:
        return self.workdir / "results"


def run_dataset(workdir: Path, fixture: Fixture, extra_files: list[Path], dataset: dict,
                overrides: dict | None = None) -> DatasetRun:
    """The whole workflow on `fixture` with config.yaml, tests/tiny_config.yaml and
    tests/datasets_e2e_config.yaml merged, then `dataset` and `overrides`."""
    config = load_config(REPO / "tests" / "tiny_config.yaml", E2E_CONFIG)
    config = merge_config(config, {"dataset": dataset, **(overrides or {})})
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.monotonic()
    run_snakemake(workdir, "--cores", "2", configfile=configfile, timeout=TIMEOUT_S)
    seconds = time.monotonic() - start
    print(f"{dataset['kind']}: whole DAG in {seconds:.0f} s")
    return DatasetRun(fixture, fixture.paths() + extra_files, workdir, config)


def write_split_file(path: Path, actors: dict[str, str]) -> Path:
    path.write_text("actor\tsplit\n" + "".join(f"{actor}\t{split}\n" for actor, split in actors.items()))
    return path


@pytest.fixture(scope="module")
def afew_run(tmp_path_factory) -> DatasetRun:
    """AFEW: 7 train clips (every class once), 4 val, 4 unlabelled test clips (the last without
    organisers' faces), a zero-byte val clip (the fixture's anomaly), plus a zero-byte test clip and a
    test clip with neither a face nor audio (no model can see it; probe.require_audio off keeps it)."""
    root = tmp_path_factory.mktemp("afew_data")
    fixture = write_afew_fixture(root, seed=5, train=7, val=4, test=4, duration_s=DURATION_S)
    empty = root / "Test_AFEW" / "009999001.avi"
    empty.write_bytes(b"")
    blank = root / "Test_AFEW" / "009999002.avi"
    grey = np.full((576, 720, 3), 118, dtype=np.uint8)
    write_clip(blank, [grey] * 25, 25, 720, 576, None, 0, AFEW_MP3_ENCODING)
    return run_dataset(
        tmp_path_factory.mktemp("afew_run"), fixture, [empty, blank],
        {"kind": "afew", "path": str(root)},
        {"faces": {"track_b": {"dataset_faces_dir": str(fixture.faces_dir)}},
         "probe": {"require_audio": False}, "fusion": {"refit": True}})


@pytest.fixture(scope="module")
def ravdess_run(tmp_path_factory) -> DatasetRun:
    """RAVDESS: 4 actors (3 recordings each: speech 01+02+03, song 02+03, calm 01), actor 01's
    audio-only and video-only-without-wav recordings; actors 1-2 train, 3 val, 4 test."""
    root = tmp_path_factory.mktemp("ravdess_data")
    fixture = write_ravdess_fixture(root / "RAVDESS", seed=5, actors=4, duration_s=DURATION_S)
    split_file = write_split_file(root / "splits.tsv", {"01": "train", "02": "train", "03": "val", "04": "test"})
    return run_dataset(tmp_path_factory.mktemp("ravdess_run"), fixture, [],
                       {"kind": "ravdess", "path": str(fixture.root), "split_file": str(split_file)})


@pytest.fixture(scope="module")
def cremad_run(tmp_path_factory) -> DatasetRun:
    """CREMA-D: 4 actors x 3 recordings (FLV + wav), a video without its .wav and a .wav without its
    video; actors 1001-1002 train, 1003 val, 1004 test."""
    root = tmp_path_factory.mktemp("cremad_data")
    fixture = write_cremad_fixture(root / "CREMA-D", seed=5, actors=4, clips_per_actor=3, duration_s=DURATION_S)
    split_file = write_split_file(root / "splits.tsv",
                                  {"1001": "train", "1002": "train", "1003": "val", "1004": "test"})
    return run_dataset(tmp_path_factory.mktemp("cremad_run"), fixture, [],
                       {"kind": "cremad", "path": str(fixture.root), "split_file": str(split_file)})


RUNS = ["afew_run", "ravdess_run", "cremad_run"]


@pytest.fixture(params=RUNS)
def dataset_run(request) -> DatasetRun:
    return request.getfixturevalue(request.param)


def test_every_written_file_is_in_manifest_or_quarantine_once(dataset_run: DatasetRun):
    manifest = read_tsv(dataset_run.results / "manifest.tsv")
    quarantine = read_tsv(dataset_run.results / "quarantine.tsv")
    listed = [row["path"] for row in manifest] + [row["audio_path"] for row in manifest if row["audio_path"]]
    listed += [row["path"] for row in quarantine]
    assert sorted(listed) == sorted(str(path) for path in dataset_run.files)
    assert all(row["reason"] and row["stage"] in ("dataset", "probe") for row in quarantine)
    assert {row["split"] for row in manifest} == {"train", "val", "test"}


def test_every_model_predicts_every_val_and_test_clip(dataset_run: DatasetRun):
    manifest = read_tsv(dataset_run.results / "manifest.tsv")
    expected = {row["clip_id"]: (row["split"], row["label"]) for row in manifest if row["split"] in ("val", "test")}
    for model in MODELS + ("fusion",):
        rows = read_predictions(dataset_run.results / "predictions" / f"{model}.tsv")
        assert {str(r["clip_id"]): (r["split"], r["label"]) for r in rows} == expected, model
        for row in rows:
            if row["status"] == "ok":
                # a distribution: 1e-3 is far above float32 softmax rounding and the table's 8 decimals
                assert row["probs"].shape == (len(CLASSES),) and abs(row["probs"].sum() - 1) < 1e-3, (model, row)
            else:
                assert row["status"] == "quarantined" and row["probs"] is None and row["reason"], (model, row)
        ok = [row for row in rows if row["status"] == "ok"]
        # each fixture leaves a model without its input on a few designed anomalies only (the fixtures'
        # docstrings): fewer than half its clips predicted means a stage lost clips
        assert len(ok) >= len(rows) / 2, f"{model}: only {len(ok)} of {len(rows)} clips predicted"
        if model != "fusion":
            assert (dataset_run.results / "metrics" / f"{model}.json").stat().st_size > 0


def test_fusion_and_report(dataset_run: DatasetRun):
    results = dataset_run.results
    weights = (results / "fusion" / "weights.json").read_text()
    assert '"refit": ' + ("true" if dataset_run.config["fusion"]["refit"] else "false") in weights
    manifest = read_tsv(results / "manifest.tsv")
    quarantine = read_tsv(results / "quarantine.tsv")
    clips = read_tsv(results / "report" / "clips.tsv")
    assert len(clips) == len(manifest) + len(quarantine)
    summary = (results / "report" / "summary.md").read_text()
    for split in ("val", "test"):
        rows = [row for row in manifest if row["split"] == split]
        labelled = sum(1 for row in rows if row["label"])
        assert (f"- {split}: {len(rows)} clips, {labelled} labelled (scored), {len(rows) - labelled} unlabelled "
                f"(predicted only") in summary
    assert "## EmotiW submission" in summary
    for model in MODELS + ("fusion",):
        assert (results / "report" / f"confusion_{model}.png").stat().st_size > 0
    assert (results / "submission" / "submission.zip").is_file()
    # a finished run reruns nothing
    dry = run_snakemake(dataset_run.workdir, "-n", configfile=dataset_run.workdir / "config.yaml")
    assert_nothing_planned(dry.stdout + "\n" + dry.stderr, f"the finished {dataset_run.config['dataset']['kind']} run")


def test_afew_track_b_reads_the_organisers_faces(afew_run: DatasetRun):
    index = {row["clip_id"]: row for row in read_tsv(afew_run.results / "faces" / "b" / "index.tsv")}
    written_tests = [Path(f.path).stem for f in afew_run.fixture.files if f.split == "test"]
    without_folder = written_tests[-1]  # the fixture's last test clip has no face folder
    assert index[without_folder]["status"] == "quarantined" and "no face folder" in index[without_folder]["reason"]
    with_faces = [c for c, row in index.items() if c not in (without_folder, "009999002")]
    assert with_faces and all(index[c]["status"] == "ok" for c in with_faces)
    import h5py

    stack_path = FACE_STACK.path(with_faces[0], afew_run.config["shards"], afew_run.workdir, track="b")
    with h5py.File(stack_path, "r") as stack:
        assert stack.attrs["method"] == "dataset"


def test_afew_submission_covers_every_test_clip(afew_run: DatasetRun):
    results = afew_run.results
    manifest = read_tsv(results / "manifest.tsv")
    tests = {row["clip_id"]: row for row in manifest if row["split"] == "test"}
    assert tests and all(row["label"] == "" for row in tests.values())  # Test_AFEW/ is unlabelled
    seen = {c: False for c in tests}
    for index in ("faces/a/index.tsv", "faces/b/index.tsv", "audio/index.tsv"):
        for row in read_tsv(results / index):
            if row["clip_id"] in seen and row["status"] == "ok":
                seen[row["clip_id"]] = True
    fused = {str(r["clip_id"]): r for r in read_predictions(results / "predictions" / "fusion.tsv")}
    refit = read_predictions(results / "predictions_refit" / "audio_svm.tsv")
    assert {str(r["clip_id"]) for r in refit} == set(tests)  # the refit models predict the test clips
    with zipfile.ZipFile(results / "submission" / "submission.zip") as archive:
        files = {name: archive.read(name).decode() for name in archive.namelist()}
    assert set(files) == {f"{c}.txt" for c, has_input in seen.items() if has_input}
    for name, emotion in files.items():
        probs = fused[name[: -len(".txt")]]["probs"]
        assert emotion == EMOTIW_EMOTIONS[CLASSES[int(np.argmax(probs))]]
    table = {row["clip_id"]: row for row in read_tsv(results / "submission" / "predictions.tsv")}
    # every file in Test_AFEW/: a .txt, or a row that says why not
    for path in sorted((afew_run.fixture.root / "Test_AFEW").iterdir()):
        row = table[path.stem]
        if f"{path.stem}.txt" in files:
            assert row["predicted"] == "true" and row["emotion"] == files[f"{path.stem}.txt"]
        else:
            assert row["predicted"] == "false" and row["reason"], row
    assert "zero-byte file" in table["009999001"]["reason"]
    assert "no fused model can see this clip" in table["009999002"]["reason"]
    written = [Path(f.path).stem for f in afew_run.fixture.files if f.split == "test"]
    assert all(f"{clip_id}.txt" in files for clip_id in written)  # each has audio and MediaPipe's face
    summary = (results / "report" / "summary.md").read_text()
    assert f"holds {len(files)} `<clip_id>.txt` files" in summary and "refit mode" in summary
