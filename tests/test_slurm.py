"""The demo pipeline through `--profile profiles/slurm` on a real one-node SLURM cluster, and the
same configuration through `--profile profiles/workstation` as the undisturbed reference.

The module fixture starts Debian's munge + slurmctld + slurmd on localhost with one declared (fake)
GPU (cluster/start-slurm.sh; installs the packages when missing, needs root) and stops exactly the
daemons it started. One pipeline run serves every SLURM test, and it is disturbed twice: the first job
that reaches RUNNING is cancelled with scancel (the profile's retries must resubmit it), and the node
is taken down (`scontrol update state=down`, as slurmctld does when a node stops answering) while a
training job runs, which kills every job on it and makes SLURM requeue them. The workflow must still
finish, with the predictions of the workstation run.
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
from conftest import REPO, SNAKEMAKE, run_snakemake, tiny_config
from dag_plan import assert_nothing_planned, dry_run, dry_run_output

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

CLUSTER_SCRIPTS = REPO / "cluster"
PROFILE = REPO / "profiles" / "slurm"
STATE = Path(os.environ.get("AVEMOTION_SLURM_STATE", "/run/avemotion-slurm"))
SHARDS = 3  # the cluster run's per-clip work: 3 shards x (media, 2 face tracks, audio) = 12 jobs
# Snakefile `localrules`: they read the per-clip files and write one table or figure each
LOCAL_RULES = {"media_index", "faces_index", "faces_qc", "audio_index", "fusion", "submission", "report", "bundle"}
# The node is failed under the audio LSTM's training job once it has written a resume checkpoint
# (results/models/audio_lstm/resume.pt, every FAILED_MODEL_STEPS / 6 steps) and is still running
FAILED_MODEL = "audio_lstm"
FAILED_MODEL_STEPS = 120
SUBMITTED = re.compile(r"submitted with SLURM jobid (?P<id>\d+) \(log: (?P<log>\S+)\)")


@dataclass
class Cluster:
    env: dict[str, str]

    @property
    def node(self) -> str:
        return subprocess.run(["sinfo", "-h", "-o", "%N"], capture_output=True, text=True, check=True).stdout.strip()

    def fail_node(self, timeout_s: float = 120) -> list[str]:
        """Take the node down under its running jobs, as slurmctld does with a node that stops
        answering: SLURM kills them and requeues them (same job ids, `Restarts` counted). Then bring
        the node back; returns the ids of the jobs that were running on it."""
        running = [job_id for job_id, record in self.job_records().items() if record.get("JobState") == "RUNNING"]
        subprocess.run(["scontrol", "update", f"nodename={self.node}", "state=down",
                        "reason=avemotion test: node failure"], check=True)
        deadline = time.monotonic() + timeout_s
        while any(self.job_records().get(job_id, {}).get("JobState") == "RUNNING" for job_id in running):
            assert time.monotonic() < deadline, f"jobs {running} still RUNNING on a node that is down"
            time.sleep(0.5)
        # ReturnToService=2 may already have brought the node back when its slurmd registered again
        subprocess.run(["scontrol", "update", f"nodename={self.node}", "state=resume"], capture_output=True)
        while not re.match(r"(idle|mix|alloc)", self.node_state()):
            assert time.monotonic() < deadline, f"node {self.node} did not come back: {self.node_state()}"
            time.sleep(0.5)
        return running

    def node_state(self) -> str:
        return subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip()

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
class NodeFailure:
    training_job: str  # the audio LSTM's training job, past its first resume checkpoint when the node went down
    killed_jobs: list[str]  # every job running on the node then (the training job among them)


@dataclass
class SlurmRun:
    workdir: Path
    configfile: Path
    returncode: int
    output: str
    cancelled_job: str | None
    node_failure: NodeFailure | None
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
    steps per model stage) so that the whole DAG runs through SLURM in a few minutes; the audio LSTM
    alone trains long enough, with resume checkpoints, for the node to fail under it mid-training."""
    config = tiny_config()
    config["demo"]["clips_per_class"] = {"train": 2, "val": 1, "test": 1}
    config["shards"] = SHARDS
    shrink_training(config.get("models", {}))
    config["models"]["audio_lstm"]["iterations"] = FAILED_MODEL_STEPS
    config["models"]["training"]["checkpoint_every"] = FAILED_MODEL_STEPS // 6
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
    node_failure = None
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 1800
        try:
            # Watch the queue (and remember every job's record: slurmctld forgets finished jobs after
            # MinJobAge); cancel the first job of this run that is running, then take the node down
            # under the audio LSTM's training once it has written a resume checkpoint.
            while process.poll() is None and time.monotonic() < deadline:
                for job_id, record in slurm_cluster.job_records().items():
                    if job_id in known_before:
                        continue
                    records[job_id] = record
                    if record.get("JobState") != "RUNNING":
                        continue
                    if cancelled is None:
                        subprocess.run(["scancel", job_id], check=True)
                        cancelled = job_id
                    elif (node_failure is None and record.get("Comment") == f"rule_{FAILED_MODEL}"
                          and (workdir / "results" / "models" / FAILED_MODEL / "resume.pt").exists()):
                        node_failure = NodeFailure(job_id, slurm_cluster.fail_node())
                time.sleep(1)
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
    for job_id, record in slurm_cluster.job_records().items():
        if job_id not in known_before:
            records[job_id] = record
    return SlurmRun(workdir, configfile, process.returncode, log_path.read_text(), cancelled, node_failure, records)


@dataclass
class WorkstationRun:
    workdir: Path
    configfile: Path
    returncode: int
    output: str


@pytest.fixture(scope="module")
def workstation_run(tmp_path_factory: pytest.TempPathFactory) -> WorkstationRun:
    """The cluster run's configuration through `profiles/workstation` (all cores, one GPU slot),
    undisturbed: the reference for the cluster run's predictions."""
    workdir = tmp_path_factory.mktemp("workstation_run")
    configfile = pipeline_config(workdir)
    result = run_snakemake(workdir, "--profile", str(REPO / "profiles" / "workstation"), configfile=configfile,
                           check=False)
    return WorkstationRun(workdir, configfile, result.returncode, result.stdout + result.stderr)


def seconds(slurm_duration: str) -> int:
    """SLURM's [D-]HH:MM:SS (also MM:SS) as seconds."""
    days, _, clock = slurm_duration.rpartition("-")
    total = 0
    for part in clock.split(":"):
        total = total * 60 + int(part)
    return total + int(days or 0) * 86400


def job_memory_mb(record: dict[str, str]) -> int:
    """The memory a job got: `--mem` shows as MinMemoryNode; without it SLURM gives DefMemPerCPU a CPU
    (MinMemoryCPU)."""
    if "MinMemoryNode" in record:
        return megabytes(record["MinMemoryNode"])
    return megabytes(record["MinMemoryCPU"]) * int(record["NumCPUs"])


def megabytes(slurm_memory: str) -> int:
    """SLURM's memory figures (`500M`, `16000M`, `2G`) in MB (SLURM's M is 2**20 bytes, as Snakemake's mem_mb
    is passed to --mem unchanged)."""
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]?)", slurm_memory).groups()
    return round(float(number) * {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024**2}[unit])


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


def test_submitted_jobs_get_the_rules_memory_time_cpus_and_gpu(slurm_run: SlurmRun):
    assert slurm_run.returncode == 0, slurm_run.output[-6000:]
    # what Snakemake computes for each job under the profile: the rule's resources, the profile's defaults
    # for what a rule leaves out, and its threads (no --cores cap: the node has 8 CPUs). --forceall plans
    # the jobs up to the manifest checkpoint; the per-clip and model jobs after it need --forcerun.
    def planned(*force: str) -> list:
        return dry_run(slurm_run.workdir, *force, "--profile", str(PROFILE), "--cores", "8",
                       configfile=slurm_run.configfile)

    up_to_checkpoint = planned("--forceall")
    before = {job.rule for job in up_to_checkpoint}
    after = {folder.removeprefix("rule_") for folder in slurm_run.submitted().values()} - before
    wanted: dict[str, tuple[int, int, int, int]] = {}
    for job in up_to_checkpoint + planned("--forcerun", *sorted(after)):
        asks = (int(job.resources["mem_mb"]), int(job.resources["runtime"]), job.threads,
                int(job.resources.get("gpu", 0)))
        assert wanted.setdefault(job.rule, asks) == asks, f"jobs of {job.rule} ask for different resources"
    assert any(gpus for *_, gpus in wanted.values()), "no rule of the workflow declares gpu=1 (the training rules must)"
    for job_id, folder in slurm_run.submitted().items():
        rule = folder.removeprefix("rule_")
        record = slurm_run.records[job_id]
        gpus = re.search(r"gpu:(\d+)", record.get("TresPerJob", ""))
        got = (job_memory_mb(record), seconds(record["TimeLimit"]) // 60, int(record["NumCPUs"]),
               int(gpus[1]) if gpus else 0)
        assert got == wanted[rule], f"{rule} (job {job_id}): SLURM got (MB, minutes, CPUs, GPUs) {got}, the rule asks {wanted[rule]}"


def test_a_node_failure_mid_training_requeues_its_jobs_and_the_workflow_finishes(slurm_run: SlurmRun):
    failure = slurm_run.node_failure
    assert failure is not None, f"the {FAILED_MODEL} job was never seen RUNNING with a resume checkpoint written"
    assert failure.training_job in failure.killed_jobs
    # the requeued job resumed its training from the checkpoint (the log starts the stage past step 0)
    train_log = (slurm_run.workdir / "results" / "logs" / FAILED_MODEL / "train.log").read_text()
    starts = [int(step) for step in re.findall(rf"steps (\d+)\.\.{FAILED_MODEL_STEPS}\b", train_log)]
    assert starts and starts[-1] > 0, f"the requeued {FAILED_MODEL} training started over:\n{train_log[-3000:]}"
    comments = {job_id: record.get("Comment") for job_id, record in slurm_run.records.items()}
    for job_id in failure.killed_jobs:
        record = slurm_run.records[job_id]
        # SLURM requeued it (same job id, counted restart) and it ran to its end...
        assert record["JobState"] == "COMPLETED" and int(record["Restarts"]) >= 1, record
        # ...and Snakemake did not submit the same work a second time beside it
        twins = [other for other, comment in comments.items() if comment == comments[job_id] and other != job_id]
        assert not twins, f"job {job_id} ({comments[job_id]}) was requeued and also resubmitted as {twins}"
    assert slurm_run.returncode == 0, slurm_run.output[-6000:]


def test_workstation_profile_runs_the_workflow_to_the_end(workstation_run: WorkstationRun):
    assert workstation_run.returncode == 0, workstation_run.output[-6000:]
    # `cores: all` and the one GPU slot the training rules share
    assert f"Provided cores: {os.cpu_count()}" in workstation_run.output, workstation_run.output[:3000]
    assert re.search(r'Provided resources: .*\bgpu=(Resource\("gpu", )?1\b', workstation_run.output), workstation_run.output[:3000]
    assert_nothing_planned(dry_run_output(workstation_run.workdir, configfile=workstation_run.configfile),
                           "after the workstation run")


def test_the_disturbed_cluster_run_predicts_what_the_undisturbed_workstation_run_does(
        slurm_run: SlurmRun, workstation_run: WorkstationRun):
    assert slurm_run.returncode == 0 and workstation_run.returncode == 0
    reference = sorted((workstation_run.workdir / "results" / "predictions").glob("*.tsv"))
    disturbed = sorted((slurm_run.workdir / "results" / "predictions").glob("*.tsv"))
    assert [table.name for table in disturbed] == [table.name for table in reference]
    assert len(reference) == 6, [table.name for table in reference]  # the five models and their fusion
    for ours, theirs in zip(disturbed, reference):
        assert ours.read_bytes() == theirs.read_bytes(), f"{ours.name} differs from the workstation run's"
