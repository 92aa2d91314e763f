"""A clip's results do not depend on which clips share its shard: the shared demo run, rerun on a copy
with another `shards` value, writes byte-identical per-clip artifacts and predictions."""
from __future__ import annotations

import shutil

import pytest
import yaml

from avemotion.artifacts import read_tsv
from avemotion.constants import FACE_TRACKS, MODELS
from avemotion.layout import AUDIO_FEATURES, FACE_STACK, TIMELINE, WAV
from avemotion.shards import clips_by_shard
from conftest import DemoRun, run_snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def other_shards(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """A copy of the finished demo run, rerun with a `shards` value that groups the clips otherwise."""
    n_shards = demo_run.config["shards"] + 3
    clips = [row["clip_id"] for row in read_tsv(demo_run.results / "manifest.tsv")]
    before = {tuple(group) for group in clips_by_shard(clips, demo_run.config["shards"]).values()}
    after = {tuple(group) for group in clips_by_shard(clips, n_shards).values()}
    assert before != after, "the two shard counts group the clips alike: nothing to compare"
    workdir = tmp_path_factory.mktemp("shards") / "run"
    shutil.copytree(demo_run.workdir, workdir, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    config = dict(demo_run.config, shards=n_shards)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    run_snakemake(workdir, "--cores", "2", configfile=configfile)
    return DemoRun(workdir=workdir, configfile=configfile, config=config)


def test_per_clip_artifacts_do_not_depend_on_the_shard_mates(demo_run: DemoRun, other_shards: DemoRun):
    clips = [row["clip_id"] for row in read_tsv(demo_run.results / "manifest.tsv")]
    artifacts = [(TIMELINE, {}), (WAV, {})] + [(artifact, {}) for artifact in AUDIO_FEATURES.values()] + [
        (FACE_STACK, {"track": track}) for track in FACE_TRACKS]
    differing = []
    for clip in clips:
        for artifact, wildcards in artifacts:
            first = artifact.path(clip, demo_run.config["shards"], demo_run.workdir, **wildcards)
            second = artifact.path(clip, other_shards.config["shards"], other_shards.workdir, **wildcards)
            if first.read_bytes() != second.read_bytes():
                differing.append(str(second.relative_to(other_shards.workdir)))
    assert differing == []


def test_predictions_do_not_depend_on_the_shard_count(demo_run: DemoRun, other_shards: DemoRun):
    for name in list(MODELS) + ["fusion"]:
        first = (demo_run.results / "predictions" / f"{name}.tsv").read_bytes()
        assert first == (other_shards.results / "predictions" / f"{name}.tsv").read_bytes(), name
    assert ((demo_run.results / "submission" / "submission.zip").read_bytes()
            == (other_shards.results / "submission" / "submission.zip").read_bytes())
