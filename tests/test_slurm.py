"""The demo pipeline through `--profile profiles/slurm` on a real one-node SLURM cluster.

The module fixture starts Debian's munge + slurmctld + slurmd on localhost with one declared (fake)
GPU (cluster/start-slurm.sh; installs the packages when missing, needs root) and stops exactly the
daemons it started. One pipeline run serves every test: while it runs, the first job that reaches
RUNNING is cancelled with scancel, and the profile's retries must still bring the workflow to its end.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from avemotion.artifacts import read_tsv
from avemotion.shards import clips_by_shard
from conftest import REPO, SNAKEMAKE, tiny_config
from dag_plan import assert_nothing_planned, dry_run, dry_run_output

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

CLUSTER_SCRIPTS = REPO / "cluster"
PROFILE = REPO / "profiles" / "slurm"
STATE = Path(os.environ.get("AVEMOTION_SLURM_STATE", "/run/avemotion-slurm"))
SHARDS = 3  # the cluster run's per-clip work: 3 shards x (media, 2 face tracks, audio) = 12 jobs
# Snakefile `localrules`: they read the per-clip files and write one table or figure each
LOCAL_RULES = {"media_index", "faces_index", "faces_qc", "audio_index", "fusion", "submission", "report"}
SUBMITTED = re.compile(r"submitted with SLURM jobid (?P<id>\d+) \(log: (?P<log>\S+)\)")


@dataclass
class Cluster:
    env: dict[str, str]

    def job_records(self) -> dict[str, dict[str, str]]:
        """Every job slurmctld still knows (finished ones for MinJobAge = 300 s), by job id."""
        out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout
        records = {}
        for line in out.splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if "JobId" in fields:
                records[fields["JobId"]] = fields
        return records


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    if os.geteuid() != 0:
        pytest.fail("starting a SLURM cluster needs root (apt-get install, munged, slurmd); "
                    "deselect this test with -m 'not slurm'")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.fail("no SLURM daemons installed and no apt-get to install Debian's slurmctld/slurmd/munge; "
                    "deselect this test with -m 'not slurm'")
    started = tmp_path_factory.mktemp("slurm") / "started"
    env = dict(os.environ, STATE=str(STATE), STARTED=str(started))
    start = subprocess.run(["bash", str(CLUSTER_SCRIPTS / "start-slurm.sh")], env=env, capture_output=True,
                           text=True, timeout=900)
    try:
        assert start.returncode == 0, f"start-slurm.sh failed:\n{start.stdout}\n{start.stderr}"
        yield Cluster(env)
    finally:
        stop = subprocess.run(["bash", str(CLUSTER_SCRIPTS / "stop-slurm.sh")], env=env, capture_output=True,
                              text=True, timeout=120)
        assert stop.returncode == 0, f"stop-slurm.sh failed:\n{stop.stdout}\n{stop.stderr}"


@dataclass
class SlurmRun:
    workdir: Path
    configfile: Path
    returncode: int
    output: str
    cancelled_job: str | None
    records: dict[str, dict[str, str]] = field(default_factory=dict)

    def submitted(self) -> dict[str, str]:
        """SLURM job id -> its log folder's name (`rule_<rule>` or `group_<group>_<rules>`): the folder
        right under `slurm_logs/`, since a job with wildcards logs one folder deeper (`rule_vgg_lstm/a/`)."""
        return {m["id"]: log_folder(Path(m["log"])) for m in SUBMITTED.finditer(self.output)}


def log_folder(log: Path) -> str:
    return log.parts[log.parts.index("slurm_logs") + 1]


def shrink_training(block: dict, max_iterations: int = 10) -> None:
    """Cap every `*iterations` setting: the cluster run checks scheduling, not learning."""
    for key, value in block.items():
        if isinstance(value, dict):
            shrink_training(value, max_iterations)
        elif key.endswith("iterations") and isinstance(value, int) and value > max_iterations:
            block[key] = max_iterations


def pipeline_config(workdir: Path) -> Path:
    """The shared tiny demo config, smaller still (2/1/1 clips per class in 3 shards, 10 training
    steps per model stage) so that the whole DAG runs through SLURM in a few minutes."""
    config = tiny_config()
    config["demo"]["clips_per_class"] = {"train": 2, "val": 1, "test": 1}
    config["shards"] = SHARDS
    shrink_training(config.get("models", {}))
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return configfile


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> SlurmRun:
    workdir = tmp_path_factory.mktemp("slurm_run")
    configfile = pipeline_config(workdir)
    known_before = set(slurm_cluster.job_records())
    log_path = workdir / "snakemake.out"
    command = SNAKEMAKE + ["--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
                           "--configfile", str(configfile), "--profile", str(PROFILE), "--jobs", "4"]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    records: dict[str, dict[str, str]] = {}
    cancelled = None
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 1800
        try:
            # Watch the queue (and remember every job's record: slurmctld forgets finished jobs after
            # MinJobAge); cancel the first job of this run that is running.
            while process.poll() is None and time.monotonic() < deadline:
                for job_id, record in slurm_cluster.job_records().items():
                    if job_id in known_before:
                        continue
                    records[job_id] = record
                    if cancelled is None and record.get("JobState") == "RUNNING":
                        subprocess.run(["scancel", job_id], check=True)
                        cancelled = job_id
                time.sleep(1)
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
    for job_id, record in slurm_cluster.job_records().items():
        if job_id not in known_before:
            records[job_id] = record
    return SlurmRun(workdir, configfile, process.returncode, log_path.read_text(), cancelled, records)


def test_demo_pipeline_runs_to_the_end_on_slurm(slurm_run: SlurmRun):
    assert slurm_run.returncode == 0, slurm_run.output[-6000:]
    assert_nothing_planned(dry_run_output(slurm_run.workdir, configfile=slurm_run.configfile), "after the SLURM run")
    submitted = slurm_run.submitted()
    assert submitted, "no job was submitted through sbatch"
    # every job ran on the cluster and finished, except the one the test cancelled
    states = {job_id: slurm_run.records[job_id]["JobState"] for job_id in submitted}
    assert {s for j, s in states.items() if j != slurm_run.cancelled_job} == {"COMPLETED"}, states
    assert set(submitted) <= set(slurm_run.records), "a submitted job never appeared in squeue/scontrol"
    manifest = read_tsv(slurm_run.workdir / "results" / "manifest.tsv")
    media = read_tsv(slurm_run.workdir / "results" / "media" / "index.tsv")
    assert {row["clip_id"] for row in media} == {row["clip_id"] for row in manifest}


def test_per_clip_work_is_one_job_per_shard_and_the_aggregates_stay_on_the_login_node(slurm_run: SlurmRun):
    assert slurm_run.returncode == 0, slurm_run.output[-6000:]
    clip_ids = [row["clip_id"] for row in read_tsv(slurm_run.workdir / "results" / "manifest.tsv")]
    n_shards = len(clips_by_shard(clip_ids, SHARDS))
    # several clips a shard and two shards or more: a job per clip or one for all would show in the counts below
    assert len(clip_ids) > 3 * n_shards and n_shards >= 2, (len(clip_ids), n_shards)
    folders = Counter(folder for job_id, folder in slurm_run.submitted().items() if job_id != slurm_run.cancelled_job)
    cancelled_folder = slurm_run.submitted().get(slurm_run.cancelled_job or "", "")
    for rule, jobs_per_shard in (("media", 1), ("faces", 2), ("audio_features", 1)):
        retried = 1 if cancelled_folder == f"rule_{rule}" else 0  # its resubmission is counted
        assert folders[f"rule_{rule}"] - retried == jobs_per_shard * n_shards, folders
    on_the_cluster = {folder.removeprefix("rule_") for folder in folders}
    assert not on_the_cluster & LOCAL_RULES, f"aggregate rules submitted with sbatch: {on_the_cluster & LOCAL_RULES}"
    assert on_the_cluster >= {"manifest", "vgg_lstm", "audio_svm"}, on_the_cluster


def test_cancelled_job_is_retried_and_the_workflow_finishes(slurm_run: SlurmRun):
    assert slurm_run.cancelled_job is not None, "no job of the run was seen RUNNING"
    cancelled = slurm_run.records[slurm_run.cancelled_job]
    assert cancelled["JobState"] == "CANCELLED", cancelled
    retries = [record for job_id, record in slurm_run.records.items()
               if int(job_id) > int(slurm_run.cancelled_job) and record.get("Comment") == cancelled.get("Comment")]
    assert any(r["JobState"] == "COMPLETED" for r in retries), f"{cancelled.get('Comment')} was not resubmitted"
    assert slurm_run.returncode == 0, slurm_run.output[-6000:]


def test_gpu_rules_get_a_gpu_and_the_others_none(slurm_run: SlurmRun):
    assert slurm_run.returncode == 0, slurm_run.output[-6000:]
    planned = dry_run(slurm_run.workdir, "--forceall", configfile=slurm_run.configfile)
    gpu_rules = {job.rule for job in planned if job.resources.get("gpu", "0") not in ("0", "")}
    assert gpu_rules, "no rule of the workflow declares gpu=1 (the training rules must)"
    for job_id, folder in slurm_run.submitted().items():
        rule = folder.removeprefix("rule_")
        gres = slurm_run.records[job_id].get("TresPerJob", "")
        if rule in gpu_rules:
            assert "gpu:1" in gres, f"{rule} (job {job_id}) got no GPU: {gres!r}"
        else:
            assert "gpu" not in gres, f"{folder} (job {job_id}) got a GPU: {gres!r}"
