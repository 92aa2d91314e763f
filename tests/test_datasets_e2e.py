"""The whole DAG on the dataset-shaped fixtures, in two Snakemake runs (module-scoped fixtures),
manifest to report, on a few ~1.2-s clips with a handful of training steps
(tests/datasets_e2e_config.yaml):

- AFEW (unlabelled Test_AFEW/, track B from the organisers' faces, refit fusion, the EmotiW
  submission), evaluated cross-corpus on RAVDESS and CREMA-D (`evaluate:`);
- AFEW, RAVDESS and CREMA-D pooled for training (`dataset:` as a list; actor splits from split
  files; track B reads AFEW's crops for the AFEW clips only).

The checks are the accounting of every file, every model's predictions, the fusion, the report and
the submission, and what a dry run plans after an evaluation or training dataset is added, edited or
removed."""
from __future__ import annotations

import copy
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from avemotion.artifacts import read_predictions, read_tsv
from avemotion.config import load_config, merge_config, training_datasets
from avemotion.constants import CLASSES, EMOTIW_EMOTIONS, MODELS, SPLITS
from avemotion.demo import write_clip
from avemotion.layout import FACE_STACK
from conftest import REPO, run_snakemake
from dag_plan import assert_nothing_planned, dry_run, rule_counts
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
    evaluations: dict[str, Fixture] = field(default_factory=dict)  # name -> the evaluation dataset's fixture

    @property
    def results(self) -> Path:
        return self.workdir / "results"


def run_dataset(workdir: Path, fixture: Fixture, extra_files: list[Path], dataset: dict,
                overrides: dict | None = None) -> DatasetRun:
    """The whole workflow on `fixture` with config.yaml, tests/tiny_config.yaml and
    tests/datasets_e2e_config.yaml merged, then `dataset` and `overrides`."""
    config = load_config(REPO / "tests" / "tiny_config.yaml", E2E_CONFIG)
    config = merge_config(config, {"dataset": dataset, **(overrides or {})})
    config["dataset"] = dataset  # a pooled list replaces the mapping, not merged into it
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.monotonic()
    run_snakemake(workdir, "--cores", "2", configfile=configfile, timeout=TIMEOUT_S)
    seconds = time.monotonic() - start
    print(f"{dataset_label(config)}: whole DAG in {seconds:.0f} s")
    return DatasetRun(fixture, fixture.paths() + extra_files, workdir, config)


def dataset_label(config: dict) -> str:
    return "+".join(entry["name"] for entry in training_datasets(config))


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
    ravdess, ravdess_entry = ravdess_dataset(tmp_path_factory.mktemp("ravdess_data"))
    cremad, cremad_entry = cremad_dataset(tmp_path_factory.mktemp("cremad_data"))
    run = run_dataset(
        tmp_path_factory.mktemp("afew_run"), fixture, [empty, blank],
        {"kind": "afew", "path": str(root)},
        {"faces": {"track_b": {"dataset_faces_dir": str(fixture.faces_dir)}},
         "probe": {"require_audio": False}, "fusion": {"refit": True},
         "evaluate": [ravdess_entry, cremad_entry]})
    run.evaluations = {"ravdess": ravdess, "cremad": cremad}
    return run


def ravdess_dataset(root: Path) -> tuple[Fixture, dict]:
    """RAVDESS: 4 actors (3 recordings each: speech 01+02+03, song 02+03, calm 01), actor 01's
    audio-only and video-only-without-wav recordings; actors 1-2 train, 3 val, 4 test."""
    fixture = write_ravdess_fixture(root / "RAVDESS", seed=5, actors=4, duration_s=DURATION_S)
    split_file = write_split_file(root / "splits.tsv", {"01": "train", "02": "train", "03": "val", "04": "test"})
    return fixture, {"kind": "ravdess", "path": str(fixture.root), "split_file": str(split_file)}


def cremad_dataset(root: Path) -> tuple[Fixture, dict]:
    """CREMA-D: 4 actors x 3 recordings (FLV + wav), a video without its .wav and a .wav without its
    video; actors 1001-1002 train, 1003 val, 1004 test."""
    fixture = write_cremad_fixture(root / "CREMA-D", seed=5, actors=4, clips_per_actor=3, duration_s=DURATION_S)
    split_file = write_split_file(root / "splits.tsv",
                                  {"1001": "train", "1002": "train", "1003": "val", "1004": "test"})
    return fixture, {"kind": "cremad", "path": str(fixture.root), "split_file": str(split_file)}


@pytest.fixture(scope="module")
def pooled_run(tmp_path_factory) -> DatasetRun:
    """AFEW, RAVDESS and CREMA-D pooled: the three train splits train the models, the three val
    splits choose the fusion weights; track B reads the organisers' crops for the AFEW clips and finds
    the others' faces with dlib."""
    afew_root = tmp_path_factory.mktemp("afew_data")
    afew = write_afew_fixture(afew_root, seed=6, train=7, val=4, test=4, duration_s=DURATION_S)
    ravdess, ravdess_entry = ravdess_dataset(tmp_path_factory.mktemp("ravdess_data"))
    cremad, cremad_entry = cremad_dataset(tmp_path_factory.mktemp("cremad_data"))
    return run_dataset(tmp_path_factory.mktemp("pooled_run"), afew, ravdess.paths() + cremad.paths(),
                       [{"kind": "afew", "path": str(afew_root)}, ravdess_entry, cremad_entry],
                       {"faces": {"track_b": {"dataset_faces_dir": str(afew.faces_dir)}}})


RUNS = ["afew_run", "pooled_run"]


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
    clips = [row for row in read_tsv(results / "report" / "clips.tsv") if row["role"] == "train"]
    assert len(clips) == len(manifest) + len(quarantine)
    assert [row["dataset"] for row in clips] == [row["dataset"] for row in manifest + quarantine]
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
    assert_nothing_planned(dry.stdout + "\n" + dry.stderr, f"the finished {dataset_label(dataset_run.config)} run")


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


EVALUATION_RULES = {"manifest", "media", "media_index", "faces", "faces_index", "faces_qc", "audio_features",
                    "audio_index", "evaluate_model", "evaluate_fusion"}
TRAINING_RULES = {"vgg_lstm", "audio_svm", "audio_lstm", "inception_lstm", "fusion"}


def test_every_evaluation_clip_is_accounted_for_and_predicted(afew_run: DatasetRun):
    # cross-corpus: each evaluation dataset's every file is in its own manifest or quarantine once, and
    # every model and the fusion predict every manifest clip, whatever its split (none was trained on)
    clips = read_tsv(afew_run.results / "report" / "clips.tsv")
    for name, fixture in afew_run.evaluations.items():
        folder = afew_run.results / "evaluate" / name
        manifest = read_tsv(folder / "manifest.tsv")
        quarantine = read_tsv(folder / "quarantine.tsv")
        listed = [row["path"] for row in manifest] + [row["audio_path"] for row in manifest if row["audio_path"]]
        assert sorted(listed + [row["path"] for row in quarantine]) == sorted(str(p) for p in fixture.paths())
        assert {row["dataset"] for row in manifest + quarantine} == {name}
        expected = {row["clip_id"]: (row["split"], row["label"]) for row in manifest}
        assert {split for split, _ in expected.values()} == {"train", "val", "test"}
        for model in MODELS + ("fusion",):
            rows = read_predictions(folder / "predictions" / f"{model}.tsv")
            assert {str(r["clip_id"]): (r["split"], r["label"]) for r in rows} == expected, (name, model)
            ok = [row for row in rows if row["status"] == "ok"]
            assert len(ok) >= len(rows) / 2, f"{name}, {model}: only {len(ok)} of {len(rows)} clips predicted"
        reported = [row for row in clips if row["dataset"] == name]
        assert len(reported) == len(manifest) + len(quarantine) and {r["role"] for r in reported} == {"evaluate"}
        # its own face QC: a montage per split and every clip's detection rate per track
        detection = read_tsv(folder / "faces" / "qc" / "detection.tsv")
        assert {row["clip_id"]: (row["split"], row["label"]) for row in detection} == expected, name
        assert all((folder / "faces" / "qc" / f"montage_{split}.png").stat().st_size > 0 for split in SPLITS)
    # the evaluation clips' track B finds faces itself: the organisers' crops are the training AFEW's
    ravdess = read_tsv(afew_run.results / "evaluate" / "ravdess" / "manifest.tsv")
    stack = FACE_STACK.path(ravdess[0]["clip_id"], afew_run.config["shards"], afew_run.workdir,
                            corpus="evaluate/ravdess/", track="b")
    import h5py

    with h5py.File(stack, "r") as handle:
        assert handle.attrs["method"] == "dlib"


def test_the_evaluation_fusion_uses_the_weights_chosen_on_afew_val(afew_run: DatasetRun):
    import json

    from avemotion.fusion import fused_rows, load_predictions

    weights = json.loads((afew_run.results / "fusion" / "weights.json").read_text())
    folder = afew_run.results / "evaluate" / "cremad" / "predictions"
    aligned = load_predictions({model: folder / f"{model}.tsv" for model in weights["models"]})
    expected = fused_rows(aligned, np.array([weights["weights"][m] for m in weights["models"]]))
    written = {str(row["clip_id"]): row for row in read_predictions(folder / "fusion.tsv")}
    for row in expected:
        if row["probs"] is None:
            assert written[row["clip_id"]]["probs"] is None
        else:
            np.testing.assert_allclose(written[row["clip_id"]]["probs"], row["probs"], atol=1e-7)


def test_the_report_has_a_table_per_dataset_and_the_submission_is_afew_only(afew_run: DatasetRun):
    results = afew_run.results
    summary = read_tsv(results / "report" / "summary.tsv")
    for name in afew_run.evaluations:
        rows = {row["model"]: row for row in summary if row["dataset"] == name}
        assert set(rows) == set(MODELS) | {"fusion"} and {row["role"] for row in rows.values()} == {"evaluate"}
        assert all(row["drop_uar"] != "" for row in rows.values())
    assert "Cross-corpus" in (results / "report" / "summary.md").read_text()
    afew_tests = {row["clip_id"] for row in read_tsv(results / "manifest.tsv") if row["split"] == "test"}
    afew_tests |= {row["clip_id"] for row in read_tsv(results / "quarantine.tsv") if row["split"] == "test"}
    table = read_tsv(results / "submission" / "predictions.tsv")
    assert {row["clip_id"] for row in table} == afew_tests


def planned(run: DatasetRun, tmp_path: Path, config: dict) -> list:
    configfile = tmp_path / "edited.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return dry_run(run.workdir, configfile=configfile)


def test_removing_an_evaluation_dataset_reruns_only_the_report(afew_run: DatasetRun, tmp_path: Path):
    config = copy.deepcopy(afew_run.config)
    config["evaluate"] = [entry for entry in config["evaluate"] if entry["kind"] != "cremad"]
    assert set(rule_counts(planned(afew_run, tmp_path, config))) == {"report", "bundle"}


def test_editing_an_evaluation_dataset_reruns_its_own_jobs_only(afew_run: DatasetRun, tmp_path: Path):
    config = copy.deepcopy(afew_run.config)
    ravdess = next(entry for entry in config["evaluate"] if entry["kind"] == "ravdess")
    ravdess["ravdess_calm"] = "drop"
    jobs = planned(afew_run, tmp_path, config)
    rules = set(rule_counts(jobs))
    assert "manifest" in rules and not rules & TRAINING_RULES, rule_counts(jobs)
    assert rules <= EVALUATION_RULES | {"report", "bundle"}, rule_counts(jobs)
    for job in jobs:
        if job.rule in EVALUATION_RULES:
            assert job.wildcards.get("corpus") == "evaluate/ravdess/" or job.wildcards.get("dataset") == "ravdess", job


def test_adding_an_evaluation_dataset_runs_its_own_jobs_only(afew_run: DatasetRun, tmp_path: Path):
    # a list of three of the RAVDESS fixture's clips under another name: a dataset of its own
    ravdess = read_tsv(afew_run.results / "evaluate" / "ravdess" / "manifest.tsv")[:3]
    listing = tmp_path / "clips.csv"
    listing.write_text("path,label,split\n" + "".join(f"{row['path']},{row['label']},test\n" for row in ravdess))
    config = copy.deepcopy(afew_run.config)
    config["evaluate"].append({"kind": "list", "path": str(listing), "name": "extra"})
    jobs = planned(afew_run, tmp_path, config)
    rules = set(rule_counts(jobs))
    assert "manifest" in rules and not rules & TRAINING_RULES, rule_counts(jobs)
    assert rules <= EVALUATION_RULES | {"report", "bundle"}, rule_counts(jobs)
    corpora = {job.wildcards.get("corpus") for job in jobs if "corpus" in job.wildcards}
    assert corpora == {"evaluate/extra/"}, corpora


def test_adding_a_dataset_to_the_pooled_training_set_retrains(afew_run: DatasetRun, tmp_path: Path):
    config = copy.deepcopy(afew_run.config)
    cremad = next(entry for entry in config["evaluate"] if entry["kind"] == "cremad")
    config["evaluate"] = [entry for entry in config["evaluate"] if entry is not cremad]
    config["dataset"] = [config["dataset"], cremad]
    rules = set(rule_counts(planned(afew_run, tmp_path, config)))
    assert {"manifest", "fusion", "report"} <= rules, rules


def test_pooled_training_keeps_every_dataset_in_the_tables(pooled_run: DatasetRun):
    results = pooled_run.results
    manifest = read_tsv(results / "manifest.tsv")
    assert {row["dataset"] for row in manifest} == {"afew", "ravdess", "cremad"}
    for name in ("afew", "ravdess", "cremad"):
        assert {row["split"] for row in manifest if row["dataset"] == name} == {"train", "val", "test"}
    assert len({row["clip_id"] for row in manifest}) == len(manifest)
    weights = (results / "fusion" / "weights.json").read_text()
    n_val = sum(1 for row in manifest if row["split"] == "val" and row["label"])
    assert f'"n_val": {n_val}' in weights  # every dataset's val clips chose the weights
    summary = read_tsv(results / "report" / "summary.tsv")
    assert {row["dataset"] for row in summary} >= {"afew+ravdess+cremad", "afew", "ravdess", "cremad"}
    # the EmotiW submission: AFEW's test clips only
    afew_tests = {row["clip_id"] for row in manifest + read_tsv(results / "quarantine.tsv")
                  if row["split"] == "test" and row["dataset"] == "afew"}
    assert {row["clip_id"] for row in read_tsv(results / "submission" / "predictions.tsv")} == afew_tests


def test_pooled_track_b_reads_the_crops_of_afew_clips_and_finds_the_others_faces(pooled_run: DatasetRun):
    import h5py

    methods = {}
    for row in read_tsv(pooled_run.results / "manifest.tsv"):
        stack = FACE_STACK.path(row["clip_id"], pooled_run.config["shards"], pooled_run.workdir, track="b")
        with h5py.File(stack, "r") as handle:
            methods.setdefault(row["dataset"], set()).add(str(handle.attrs["method"]))
    assert methods == {"afew": {"dataset"}, "ravdess": {"dlib"}, "cremad": {"dlib"}}
