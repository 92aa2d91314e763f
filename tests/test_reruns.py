"""Incremental reruns on the finished demo run: after an edit, `snakemake -n` plans exactly the jobs
whose inputs or settings changed (each rule's `params:` carry only the config block it uses).

The fixture's files are never changed: an edited config is written to a copy passed with
--configfile, and the cases that must change the run directory itself (added clips, a reordered
config.yaml) work on a copy of it (copytree keeps the mtimes and Snakemake's metadata)."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from avemotion.artifacts import read_tsv
from avemotion.shards import clip_shard, clips_by_shard
from conftest import DemoRun, run_snakemake
from dag_plan import PlannedJob, assert_nothing_planned, dry_run, dry_run_output, rule_counts, workflow_rules

pytestmark = pytest.mark.slow

BACKBONE_RULES = frozenset({"demo_corpus", "manifest", "media", "media_index"})
FACE_RULES = frozenset({"faces", "faces_index"})
AUDIO_RULES = frozenset({"audio_features", "audio_index"})
FEATURE_RULES = BACKBONE_RULES | FACE_RULES | AUDIO_RULES
FACE_MODELS = frozenset({"vgg_lstm"})  # one rule over the face tracks
AUDIO_MODELS = frozenset({"audio_svm", "audio_lstm", "inception_lstm"})
MODELS = FACE_MODELS | AUDIO_MODELS


def require_rules(*rules: str) -> None:
    missing = sorted(set(rules) - workflow_rules())
    assert not missing, f"rules this test edits around are not in the workflow (renamed?): {', '.join(missing)}"


def config_block(config: dict, name: str) -> dict | None:
    """The first mapping stored under key `name` anywhere in the config (depth first)."""
    for key, value in config.items():
        if isinstance(value, dict):
            if key == name:
                return value
            found = config_block(value, name)
            if found is not None:
                return found
    return None


def bump_a_number(block: dict, preferred: tuple[str, ...] = ()) -> str:
    """Change one numeric setting of `block` in place (a preferred key first); return its key path."""
    leaves: list[tuple[list[str], dict, str]] = []

    def collect(mapping: dict, path: list[str]) -> None:
        for key, value in mapping.items():
            if isinstance(value, dict):
                collect(value, path + [key])
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                leaves.append((path + [key], mapping, key))

    collect(block, [])
    assert leaves, "the config block has no numeric setting to edit"
    leaves.sort(key=lambda leaf: next((i for i, p in enumerate(preferred) if p in leaf[2]), len(preferred)))
    path, mapping, key = leaves[0]
    value = mapping[key]
    mapping[key] = value + 1 if isinstance(value, int) else value * 1.5 if value else 0.5
    return ".".join(path)


def edited_config(demo_run: DemoRun, tmp_path: Path, block_name: str, preferred: tuple[str, ...] = ()) -> tuple[Path, str]:
    config = copy.deepcopy(demo_run.config)
    block = config_block(config, block_name)
    assert block is not None, f"no config block {block_name!r} (renamed?)"
    edited = bump_a_number(block, preferred)
    configfile = tmp_path / "edited.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return configfile, f"{block_name}: {edited}"


@pytest.fixture
def run_copy(demo_run: DemoRun, tmp_path: Path) -> DemoRun:
    """A copy of the finished demo run directory (mtimes and .snakemake metadata kept)."""
    workdir = tmp_path / "run"
    shutil.copytree(demo_run.workdir, workdir, symlinks=True,
                    ignore=shutil.ignore_patterns("locks", "incomplete", "slurm_logs"))
    return DemoRun(workdir=workdir, configfile=workdir / demo_run.configfile.name, config=demo_run.config)


def describe(jobs: list[PlannedJob]) -> str:
    return ", ".join(f"{rule} x{count}" for rule, count in sorted(rule_counts(jobs).items())) or "nothing"


def test_nothing_edited_nothing_runs(demo_run: DemoRun):
    assert_nothing_planned(dry_run_output(demo_run.workdir, configfile=demo_run.configfile), "a finished run")


def test_comment_and_key_order_in_config_yaml_rerun_nothing(run_copy: DemoRun):
    def reversed_order(value):
        if isinstance(value, dict):
            return {key: reversed_order(value[key]) for key in reversed(list(value))}
        return value

    original = yaml.safe_load(run_copy.configfile.read_text())
    text = yaml.safe_dump(reversed_order(original), sort_keys=False)
    run_copy.configfile.write_text("# edited by hand: only comments and key order differ\n"
                                   + text.replace("\n", "  # a comment\n", 3))
    assert yaml.safe_load(run_copy.configfile.read_text()) == original
    assert_nothing_planned(dry_run_output(run_copy.workdir, configfile=run_copy.configfile), "reordered config.yaml")


def test_model_hyperparameter_reruns_only_that_model_fusion_and_report(demo_run: DemoRun, tmp_path: Path):
    require_rules("audio_svm", "fusion", "report")
    configfile, edit = edited_config(demo_run, tmp_path, "audio_svm")
    jobs = dry_run(demo_run.workdir, configfile=configfile)
    rules = set(rule_counts(jobs))
    assert rules & (FEATURE_RULES | MODELS) == {"audio_svm"}, f"after editing {edit}: {describe(jobs)}"
    assert {"fusion", "report"} <= rules, f"after editing {edit}: {describe(jobs)}"
    assert not [job for job in jobs if job.shard], f"per-clip jobs after editing {edit}: {describe(jobs)}"


def test_face_setting_reruns_face_jobs_and_face_models_nothing_of_audio(demo_run: DemoRun, tmp_path: Path):
    require_rules("faces", "vgg_lstm", "audio_features")
    configfile, edit = edited_config(demo_run, tmp_path, "faces", preferred=("size", "crop"))
    jobs = dry_run(demo_run.workdir, configfile=configfile)
    rules = set(rule_counts(jobs))
    assert "faces" in rules, f"after editing {edit}: {describe(jobs)}"
    assert rules & FACE_MODELS, f"after editing {edit}: {describe(jobs)}"
    assert not rules & (AUDIO_RULES | AUDIO_MODELS | BACKBONE_RULES), f"after editing {edit}: {describe(jobs)}"


def _add_clips(run: DemoRun, n_new: int) -> list[str]:
    """Append copies of existing demo clips under new names to the demo corpus list."""
    clips_tsv = run.results / "demo_corpus" / "clips.tsv"
    rows = read_tsv(clips_tsv)
    columns = list(rows[0])
    new_ids = []
    lines = []
    for index, row in enumerate(rows[:n_new]):
        source = Path(row["path"]) if Path(row["path"]).is_absolute() else clips_tsv.parent / row["path"]
        target = run.workdir / "added_clips" / f"added{index}{source.suffix}"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
        new_row = dict(row, path=str(target))
        if "clip_id" in new_row:
            new_row["clip_id"] = target.stem
        new_ids.append(target.stem)
        lines.append("\t".join(str(new_row[c]) for c in columns))
    with open(clips_tsv, "a") as handle:
        handle.write("\n".join(lines) + "\n")
    return new_ids


def test_added_clips_run_only_their_shards_and_the_aggregates(run_copy: DemoRun):
    assert run_copy.config["dataset"]["kind"] == "demo", "the shared demo run must use the demo corpus"
    new_ids = _add_clips(run_copy, 2)
    # The manifest is a checkpoint: the new clips' jobs exist only once it has been rebuilt.
    run_snakemake(run_copy.workdir, "--cores", "2", "results/manifest.tsv", configfile=run_copy.configfile)
    manifest_ids = {row["clip_id"] for row in read_tsv(run_copy.results / "manifest.tsv")}
    assert set(new_ids) <= manifest_ids
    n_shards = run_copy.config["shards"]
    new_shards = {clip_shard(clip, n_shards) for clip in new_ids}
    assert len(clips_by_shard(manifest_ids, n_shards)) > len(new_shards), "every shard got a new clip: nothing to test"
    jobs = dry_run(run_copy.workdir, configfile=run_copy.configfile)
    per_shard = [job for job in jobs if job.shard]
    assert {job.shard for job in per_shard} == new_shards, f"per-clip jobs: {describe(per_shard)}"
    counts = rule_counts(per_shard)
    assert counts == {"media": len(new_shards), "faces": 2 * len(new_shards), "audio_features": len(new_shards)}, counts
    aggregates = {job.rule for job in jobs if not job.shard}
    assert "media_index" in aggregates, describe(jobs)
    assert not aggregates & {"demo_corpus", "manifest"}, describe(jobs)
