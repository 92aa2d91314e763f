"""Faults: a whole Snakemake run killed with SIGKILL in the middle of writing an artifact (as when a
node dies or the OOM killer strikes) leaves no half-written artifact that a downstream job could
use, and the rerun finishes; a training job killed mid-way resumes from its last checkpoint. (A
cluster job cancelled with scancel is retried: tests/test_slurm.py.)"""
from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import time
import wave
from pathlib import Path

import pytest
import yaml

from avemotion.config import load_config
from avemotion.shards import clip_shard
from conftest import REPO, SNAKEMAKE, DemoRun, run_snakemake
from dag_plan import assert_nothing_planned, dry_run, dry_run_output, planned_jobs, workflow_rules
from media_factory import make_clip

pytestmark = pytest.mark.slow


def start_snakemake(workdir: Path, *args: str, configfile: Path) -> subprocess.Popen:
    """Snakemake in its own process group, so that the test can kill it with every job it runs."""
    command = SNAKEMAKE + ["--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
                           "--configfile", str(configfile), *args]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)


def kill_when(process: subprocess.Popen, condition, timeout: float = 300) -> bool:
    """SIGKILL the process group as soon as `condition()` holds; False if the run ended first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if condition():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return False


def test_sigkill_mid_write_leaves_no_artifact_for_downstream_and_the_rerun_finishes(tmp_path: Path):
    clips = tmp_path / "clips"
    make_clip(clips / "short.mp4", seconds=1.0)
    # minutes of audio behind a tiny video, so that writing the wav takes long enough to be caught
    make_clip(clips / "long.mp4", seconds=240, size="32x32", fps=2)
    (clips / "list.csv").write_text("path,label,split\nshort.mp4,HA,train\nlong.mp4,SA,train\n")
    config = load_config()
    config["dataset"].update(kind="list", path=str(clips / "list.csv"))
    # the two clips in different shards: the killed shard is redone, the finished one is not
    config["shards"] = next(n for n in range(2, 50) if clip_shard("short", n) != clip_shard("long", n))
    long_shard, short_shard = clip_shard("long", config["shards"]), clip_shard("short", config["shards"])
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "run"
    media = workdir / "results" / "media"
    shard = media / f"shard_{long_shard}"
    target = "results/media/index.tsv"

    def writing_long_wav() -> bool:
        return shard.is_dir() and any(p.name.startswith(".long.wav.") for p in shard.iterdir())

    # the short clip's shard first, to the end; then the run that is killed in the long clip's shard
    run_snakemake(workdir, "--cores", "1", f"results/media/shard_{short_shard}.tsv", configfile=configfile)
    process = start_snakemake(workdir, "--cores", "1", target, configfile=configfile)
    assert kill_when(process, writing_long_wav), "the run ended before the long clip's wav was being written"

    # killed before the rename: the temporary file is there, the artifact is not
    assert [p for p in shard.iterdir() if p.name.startswith(".long.wav.")]
    assert not (shard / "long.wav").exists(), "a half-written wav under its final name"
    assert not (media / "index.tsv").exists()
    # What the shard's folder holds (long.timeline.json) is not trusted: the shard table, written
    # last, is missing, so a plain run plans the shard's job again (Snakemake's own incomplete
    # marker is not checked for jobs behind the manifest checkpoint), and so does --rerun-incomplete
    # (set in both profiles).
    run_snakemake(workdir, "--unlock", configfile=configfile)
    plain = run_snakemake(workdir, "-n", target, configfile=configfile, check=False)
    planned_again = {(job.rule, job.shard) for job in planned_jobs(plain.stdout + plain.stderr)}
    assert plain.returncode == 0 and ("media", long_shard) in planned_again, plain.stdout[-2000:]
    assert ("media", short_shard) not in planned_again, "the finished shard would be redone"
    planned = dry_run(workdir, "--rerun-incomplete", target, configfile=configfile)
    assert {(job.rule, job.shard) for job in planned} == {("media", long_shard), ("media_index", None)}

    run_snakemake(workdir, "--cores", "1", "--rerun-incomplete", target, configfile=configfile)
    with wave.open(str(shard / "long.wav"), "rb") as handle:
        # all of the clip's 240 s (the killed run's wav stopped short), to the sample
        assert abs(handle.getnframes() - 240 * handle.getframerate()) <= 1
    assert_nothing_planned(dry_run_output(workdir, target, configfile=configfile), "after the rerun")


TRAINING_RULE, TRAINING_MODEL = "vgg_lstm", "vgg_lstm_a"  # the rule and its track-a job


def test_training_job_killed_mid_way_resumes_from_its_last_checkpoint(request: pytest.FixtureRequest, tmp_path: Path):
    """The models stage writes results/models/{model}/resume.pt every `checkpoint_every` steps (not a
    declared output, so Snakemake keeps it when it reruns the job) and logs each training stage as
    "stage NAME: steps FIRST..LAST": a resumed job starts a stage at FIRST > 0."""
    assert TRAINING_RULE in workflow_rules(), f"rule {TRAINING_RULE} is not in the workflow (renamed?)"
    demo_run: DemoRun = request.getfixturevalue("demo_run")
    workdir = tmp_path / "run"
    shutil.copytree(demo_run.workdir, workdir, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    configfile = workdir / demo_run.configfile.name
    model_dir = workdir / "results" / "models" / TRAINING_MODEL
    shutil.rmtree(model_dir)

    def checkpoint_written() -> bool:
        return (model_dir / "resume.pt").exists()

    target = f"results/predictions/{TRAINING_MODEL}.tsv"
    # --forcerun (like --configfile) takes any number of values: the target after another option, so
    # that it is not read as one of them (it was, and the run built every target)
    process = start_snakemake(workdir, "--forcerun", target, "--cores", "1", target, configfile=configfile)
    if not kill_when(process, checkpoint_written, timeout=900):
        pytest.fail(f"{TRAINING_MODEL} finished or failed before writing a checkpoint it could resume from")
    # the killed job left its curve so far: train_log.csv is appended step by step
    killed_rows = list(csv.DictReader((model_dir / "train_log.csv").read_text().splitlines()))
    assert killed_rows and [int(r["step"]) for r in killed_rows] == list(range(len(killed_rows))), killed_rows[:3]
    run_snakemake(workdir, "--unlock", configfile=configfile)
    run_snakemake(workdir, "--cores", "1", "--rerun-incomplete", f"results/predictions/{TRAINING_MODEL}.tsv",
                  configfile=configfile)
    log_text = (workdir / "results" / "logs" / TRAINING_MODEL / "train.log").read_text()
    # "stage NAME: steps FIRST..LAST" per stage the rerun trained: the first at FIRST > 0 (its steps
    # before the checkpoint and every earlier stage's did not run again), any later one from 0
    starts = [(name, int(first)) for name, first in re.findall(r"stage (\S+): steps (\d+)\.\.", log_text)]
    assert starts and starts[0][1] > 0, f"the rerun started from scratch:\n{log_text[-2000:]}"
    assert all(first == 0 for _, first in starts[1:]), starts
    # the steps after the checkpoint ran: the finished curve has every step of every stage once
    vgg = demo_run.config["models"]["vgg_lstm"]
    iterations = {"frames": vgg["frame_iterations"], "sequences": vgg["sequence_iterations"]}
    rows = list(csv.DictReader((model_dir / "train_log.csv").read_text().splitlines()))
    assert [(r["stage"], int(r["step"])) for r in rows] == [
        (stage, step) for stage, n in iterations.items() for step in range(n)]
    assert not (model_dir / "resume.pt").exists() and (model_dir / "checkpoint.pt").exists()
