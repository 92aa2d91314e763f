"""configs/paper.yaml is the paper: every paper value of sections 2.1-2.4 and 3.2 as
avemotion/constants.py states it, nothing labelled "paper" that the paper does not say, every
constant used, the pretraining files checked before any job, and the DAG it plans."""
from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from snakemake.utils import update_config, validate

from avemotion import constants
from avemotion.config import (
    DEFAULT_CONFIG,
    SCHEMA,
    PretrainingFileError,
    check_pretraining_files,
    config_value,
    load_config,
    paper_deviations,
)
from avemotion.artifacts import read_tsv
from avemotion.constants import FACE_TRACKS, MODELS, PAPER_CONFIG
from avemotion.shards import clips_by_shard
from conftest import REPO, run_snakemake
from dag_plan import planned_jobs, rule_counts

PAPER_YAML = REPO / "configs" / "paper.yaml"


def merged_as_snakemake_does(*paths: Path) -> dict:
    """config.yaml, then each --configfile, merged by Snakemake's own `update_config`, then validated
    with the schema's defaults filled in (rules/common.smk)."""
    config: dict = {}
    for path in (DEFAULT_CONFIG, *paths):
        update_config(config, yaml.safe_load(path.read_text()))
    validate(config, schema=str(SCHEMA))
    return config


def labelled_keys(path: Path) -> dict[str, str]:
    """{dotted key: its comment} for every `key: value  # comment` line of a YAML file."""
    stack: list[tuple[int, str]] = []
    labels: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^(?P<indent>\s*)(?P<key>[A-Za-z_0-9]+):(?P<rest>.*)$", line)
        if not match:
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        comment = match["rest"].split(" # ", 1)[1] if " # " in match["rest"] else ""
        labels[".".join(key for _, key in stack)] = comment.strip()
    return labels


def says_paper(comment: str) -> bool:
    return "paper" in comment and "not paper" not in comment


def test_paper_config_merged_as_snakemake_does_has_every_paper_value():
    merged = merged_as_snakemake_does(PAPER_YAML)
    assert merged == load_config(PAPER_YAML)  # the package's loader merges exactly like Snakemake
    wrong = [str(deviation) for deviation in paper_deviations(merged)]
    assert wrong == []
    assert merged["models"]["vgg_lstm"]["fer_iterations"] > 0  # step (a) runs
    assert merged["fusion"]["models"] == list(MODELS)


def test_paper_config_labels_paper_only_what_the_paper_says():
    paper = yaml.safe_load(PAPER_YAML.read_text())
    # settings (not blocks), less the paths each user fills in (empty in the file)
    settings = {key: comment for key, comment in labelled_keys(PAPER_YAML).items()
                if not isinstance(config_value(paper, key), dict) and config_value(paper, key) != ""}
    claimed = {key for key, comment in settings.items() if says_paper(comment)}
    assert claimed == set(PAPER_CONFIG), (
        f"labelled paper but not in constants.PAPER_CONFIG: {sorted(claimed - set(PAPER_CONFIG))}; "
        f"paper values not set and labelled in configs/paper.yaml: {sorted(set(PAPER_CONFIG) - claimed)}")
    labels = labelled_keys(PAPER_YAML)

    def block_says_not_paper(key: str) -> bool:
        parts = key.split(".")
        return any("not paper" in labels.get(".".join(parts[:n]), "") for n in range(1, len(parts)))

    unlabelled = [key for key, comment in settings.items()
                  if not comment and not block_says_not_paper(key) and not key.endswith("frame_offset")]
    assert unlabelled == [], f"values of configs/paper.yaml that say neither paper nor not paper: {unlabelled}"


def dict_literal(source: str, name: str) -> str:
    """The text of the module-level dict `name: ... = {...}` in `source`."""
    start = source.index(f"\n{name}:")
    return source[start:source.index("\n}\n", start)]


LISTINGS = ("PAPER_CONFIG", "PAPER_REPORTED_ONLY")


def test_every_constant_is_used_by_the_code_or_listed():
    source = (REPO / "avemotion" / "constants.py").read_text()
    names = re.findall(r"^([A-Z][A-Z_0-9]+)\s*[:=]", source, re.M)
    code = "\n".join(path.read_text() for folder in ("avemotion", "rules", "workflow_scripts")
                     for path in (REPO / folder).rglob("*") if path.suffix in (".py", ".smk")
                     and path.name != "constants.py")
    code += "\n".join(dict_literal(source, listing).split("=", 1)[1] for listing in LISTINGS)
    unused = [name for name in names if name not in LISTINGS and not re.search(rf"\b{name}\b", code)]
    assert unused == [], f"constants neither used nor in {LISTINGS}: {unused}"
    assert all(hasattr(constants, name) for name in names)
    assert "PAPER_CONFIG" in code  # avemotion.config reads it


def test_the_papers_reported_numbers_are_constants():
    assert constants.FER2013_N_IMAGES == 35887
    assert constants.AFEW_SPLIT_SIZES == {"train": 773, "val": 383, "test": 653}
    assert constants.PAPER_VAL_ACCURACY_TWO_VGG_LSTMS == 51.02
    assert constants.EMOTIW2016_WINNER_VAL_ACCURACY == 45.43
    assert (constants.VGG_FACE_TRAINING_IMAGES, constants.VGG_FACE_IDENTITIES) == (2_600_000, 2_600)
    listed = {value for value, _ in constants.PAPER_REPORTED_ONLY.values() if not isinstance(value, dict)}
    assert {35887, 51.02, 45.43, 2_600_000, 2_600, 6} <= listed
    assert all(section for _, section in constants.PAPER_REPORTED_ONLY.values())


def test_the_demo_config_lists_how_it_differs_from_the_paper():
    deviations = {d.key: d for d in paper_deviations(load_config())}
    assert deviations["faces.size"].value == 64 and deviations["faces.size"].paper_value == 224
    assert "models.vgg_lstm.require_pretraining" in deviations and "fusion.refit" in deviations
    assert "media.timeline_fps" not in deviations
    assert str(deviations["faces.size"]).startswith("faces.size: 64, paper 224 (2.1: ")
    assert str(deviations["models.inception_lstm.map_solver.clip_grad_norm"]).startswith(
        "models.inception_lstm.map_solver.clip_grad_norm: not set, paper 2.0")


# ------------------------------------------------------------------ pretraining files, before any job

def write_fer_csv(path: Path) -> Path:
    pixels = " ".join(["128"] * 48 * 48)
    path.write_text("emotion,pixels,Usage\n" + "".join(f"{i},{pixels},Training\n" for i in range(7)))
    return path


def write_vgg_face_stand_in(path: Path) -> Path:
    """A small file in the layout of the PyTorch conversion vgg_face_dag.pth (conv1_1 ... fc8)."""
    torch.manual_seed(0)
    state, channels = {}, 3
    for block, (width, convs) in enumerate(((4, 2), (8, 2), (16, 3), (32, 3), (32, 3)), start=1):
        for conv in range(1, convs + 1):
            state[f"conv{block}_{conv}.weight"] = torch.randn(width, channels, 3, 3)
            state[f"conv{block}_{conv}.bias"] = torch.zeros(width)
            channels = width
    for name, (out_features, in_features) in {"fc6": (64, 32 * 2 * 2), "fc7": (64, 64), "fc8": (10, 64)}.items():
        state[f"{name}.weight"] = torch.randn(out_features, in_features)
        state[f"{name}.bias"] = torch.zeros(out_features)
    torch.save(state, path)
    return path


def vgg_block(faces_dir: Path | None = None, **settings) -> dict:
    """configs/paper.yaml with these `models.vgg_lstm` settings and, given `faces_dir`, the organisers'
    faces folder for track B."""
    config = copy.deepcopy(load_config(PAPER_YAML))
    config["models"]["vgg_lstm"].update(settings)
    if faces_dir is not None:
        config["faces"]["track_b"]["dataset_faces_dir"] = str(faces_dir)
    return config


def test_paper_config_without_files_names_both_keys():
    with pytest.raises(PretrainingFileError) as error:
        check_pretraining_files(vgg_block())
    message = str(error.value)
    assert "models.vgg_lstm.vgg_face_weights is empty" in message
    assert "models.vgg_lstm.fer2013_csv is empty" in message
    assert "require_pretraining" in message


@pytest.mark.parametrize("key", ["vgg_face_weights", "fer2013_csv"])
def test_missing_or_unreadable_file_names_key_and_path(tmp_path, key):
    good = {"vgg_face_weights": str(write_vgg_face_stand_in(tmp_path / "vgg_face_dag.pth")),
            "fer2013_csv": str(write_fer_csv(tmp_path / "fer2013.csv"))}
    check_pretraining_files(vgg_block(tmp_path, **good))  # both usable: no error
    missing = tmp_path / "nowhere" / "file"
    with pytest.raises(PretrainingFileError, match=rf"models\.vgg_lstm\.{key} = '{re.escape(str(missing))}': no such file"):
        check_pretraining_files(vgg_block(tmp_path, **dict(good, **{key: str(missing)})))
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(PretrainingFileError, match=rf"models\.vgg_lstm\.{key} = '{re.escape(str(garbage))}'"):
        check_pretraining_files(vgg_block(tmp_path, **dict(good, **{key: str(garbage)})))
    with pytest.raises(PretrainingFileError, match="not a file"):
        check_pretraining_files(vgg_block(tmp_path, **dict(good, **{key: str(tmp_path)})))


def test_demo_switch_off_trains_without_files():
    check_pretraining_files(load_config())  # require_pretraining: false, no files: runs (report says so)
    with pytest.raises(PretrainingFileError, match="fer_iterations is 0"):
        check_pretraining_files(vgg_block(vgg_face_weights="", fer2013_csv="", fer_iterations=0))


# ------------------------------------------------------------------ the DAG the paper config plans

N_CLIPS = 5


def paper_run_config(tmp_path: Path, with_files: bool) -> Path:
    """configs/paper.yaml over a finished manifest of N_CLIPS stand-in clips (benchmarks/bench_dag.py)."""
    from benchmarks.bench_dag import make_dataset

    config = load_config(PAPER_YAML)
    dataset_config = yaml.safe_load(make_dataset(tmp_path, N_CLIPS, shards=config["shards"]).read_text())
    config["dataset"] = dataset_config["dataset"]
    if with_files:
        config["models"]["vgg_lstm"].update(
            vgg_face_weights=str(write_vgg_face_stand_in(tmp_path / "vgg_face_dag.pth")),
            fer2013_csv=str(write_fer_csv(tmp_path / "fer2013.csv")))
    configfile = tmp_path / "paper_run.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return configfile


def test_paper_dry_run_without_files_stops_before_any_job(tmp_path):
    configfile = paper_run_config(tmp_path, with_files=False)
    result = run_snakemake(tmp_path / "run", "-n", "--cores", "1", configfile=configfile, check=False, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "models.vgg_lstm.vgg_face_weights is empty" in output and "models.vgg_lstm.fer2013_csv is empty" in output
    assert "Job stats" not in output, output[-3000:]  # the check stops Snakemake before it plans any job


def test_paper_dry_run_plans_the_papers_dag(tmp_path):
    from avemotion.config import track_settings

    configfile = paper_run_config(tmp_path, with_files=True)
    result = run_snakemake(tmp_path / "run", "-n", "--cores", "1", configfile=configfile, timeout=300)
    jobs = planned_jobs(result.stdout + "\n" + result.stderr)
    counts = rule_counts(jobs)
    clip_ids = [row["clip_id"] for row in read_tsv(tmp_path / "run" / "results" / "manifest.tsv")]
    n_shards = len(clips_by_shard(clip_ids, yaml.safe_load(configfile.read_text())["shards"]))
    # both face tracks and the audio features of every shard (the stand-in media is done)
    assert counts["faces"] == 2 * n_shards and counts["audio_features"] == n_shards, counts
    # the five models and, paper 3.2, their train+val refit twins: one rule per model over {fit}
    # (and the VGG-LSTM's over the two face tracks)
    fits = Counter((job.rule, job.wildcards.get("fit")) for job in jobs)
    for rule in {model.removesuffix("_a").removesuffix("_b") for model in MODELS}:
        expected = 2 if rule == "vgg_lstm" else 1
        assert fits[rule, ""] == expected and fits[rule, "_refit"] == expected, fits
    assert counts["fusion"] == 1 and counts["report"] == 1
    config = yaml.safe_load(configfile.read_text())
    # the faces rule's params are track_settings(config["faces"], track): 224-px faces on both tracks
    assert [track_settings(config["faces"], track)["size"] for track in FACE_TRACKS] == [224, 224]
    assert track_settings(config["faces"], "a")["method_settings"]["method"] == "dlib"
