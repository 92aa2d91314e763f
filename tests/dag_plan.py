"""What a Snakemake dry run would execute, parsed from its printed job blocks.

`snakemake -n` prints one block per job::

    rule media:                         (or "localrule", "checkpoint", "localcheckpoint")
        input: ...
        wildcards: clip=c0
        resources: tmpdir=/tmp, mem_mb=500, gpu=1

`planned_jobs` turns those blocks into `PlannedJob`s (the `all` target rule left out), so that rerun
tests can say exactly which rules, and which shards of a per-clip stage, would run. It checks the
blocks against the job-stats table Snakemake prints, and "nothing planned" means Snakemake said
"Nothing to be done" (`assert_nothing_planned`): output it cannot read fails the test.
"""
from __future__ import annotations

import functools
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from conftest import REPO, SNAKEMAKE, run_snakemake

JOB_HEADER = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) (?P<rule>\w+):\s*$")
JOB_FIELD = re.compile(r"^\s+(?P<key>input|output|log|jobid|benchmark|reason|wildcards|resources|threads): ?(?P<value>.*)$")
TARGET_RULES = frozenset({"all"})
STATS_TOTAL = re.compile(r"^total\s+(\d+)\s*$", re.MULTILINE)
NOTHING_TO_DO = "Nothing to be done"


@dataclass(frozen=True)
class PlannedJob:
    rule: str
    wildcards: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    resources: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    reason: str = field(default="", compare=False)
    jobid: str = ""
    threads: int = field(default=1, compare=False)  # Snakemake prints `threads:` only above 1

    @property
    def shard(self) -> str | None:
        """The shard of a per-clip stage's job (media, faces, audio_features; avemotion.shards)."""
        return self.wildcards.get("shard")


def _key_values(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(", ") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


class DryRunNotUnderstood(AssertionError):
    """A dry run's output that says neither which jobs it plans nor that there is nothing to do (a
    changed Snakemake message must fail the tests that read it, not pass them as "nothing planned")."""


def planned_jobs(dry_run_output: str, include_targets: bool = False) -> list[PlannedJob]:
    """The jobs a dry run's output lists: an empty list only where Snakemake says "Nothing to be
    done"; raises DryRunNotUnderstood when the job blocks read do not add up to its job-stats total,
    or when the output has neither."""
    jobs = _job_blocks(dry_run_output)
    totals = STATS_TOTAL.findall(dry_run_output)
    if not totals:
        if NOTHING_TO_DO not in dry_run_output:
            raise DryRunNotUnderstood("no job-stats table and no 'Nothing to be done' in the dry run's output:\n"
                                      + dry_run_output[-3000:])
        if jobs:
            raise DryRunNotUnderstood(f"'Nothing to be done', yet {len(jobs)} job blocks:\n{dry_run_output[-3000:]}")
        return []
    if len(jobs) != int(totals[-1]):
        raise DryRunNotUnderstood(f"read {len(jobs)} job blocks, Snakemake's job stats say {totals[-1]}:\n"
                                  + dry_run_output[-3000:])
    return [job for job in jobs if include_targets or job.rule not in TARGET_RULES]


def assert_nothing_planned(dry_run_output: str, what: str = "") -> None:
    """Snakemake's own words that a dry run plans nothing (not merely no job block found)."""
    assert NOTHING_TO_DO in dry_run_output, (
        f"{what or 'the dry run'} plans jobs: "
        + ", ".join(f"{rule} x{n}" for rule, n in sorted(rule_counts(planned_jobs(dry_run_output)).items()))
        + "\n" + dry_run_output[-3000:])


def _job_blocks(dry_run_output: str) -> list[PlannedJob]:
    jobs: list[PlannedJob] = []
    current: dict | None = None

    def close() -> None:
        if current is not None:
            jobs.append(PlannedJob(current["rule"], current.get("wildcards", {}), current.get("resources", {}),
                                   current.get("reason", ""), current.get("jobid", ""), int(current.get("threads", 1))))

    for line in dry_run_output.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            close()
            current = {"rule": header["rule"]}
            continue
        if current is None:
            continue
        entry = JOB_FIELD.match(line)
        if entry is None:
            if line.strip() and not line.startswith((" ", "\t")):
                close()
                current = None
            continue
        key, value = entry["key"], entry["value"]
        if key in ("wildcards", "resources"):
            current[key] = _key_values(value)
        elif key in ("reason", "jobid", "threads"):
            current[key] = value
    close()
    return jobs


def dry_run(workdir: Path, *args: str, configfile: Path | None = None) -> list[PlannedJob]:
    """Run `snakemake -n` on a run directory and return the jobs it would execute."""
    return planned_jobs(dry_run_output(workdir, *args, configfile=configfile))


def dry_run_output(workdir: Path, *args: str, configfile: Path | None = None) -> str:
    result = run_snakemake(workdir, "-n", "--cores", "1", *args, configfile=configfile)
    return result.stdout + "\n" + result.stderr


def rule_counts(jobs: list[PlannedJob]) -> Counter:
    return Counter(job.rule for job in jobs)


@functools.lru_cache(maxsize=None)
def workflow_rules() -> frozenset[str]:
    """The rules the repository's workflow defines now (`snakemake --list-rules`)."""
    result = subprocess.run(SNAKEMAKE + ["--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO),
                                         "--list-rules"], capture_output=True, text=True, check=True,
                            env=_env())
    return frozenset(line.strip() for line in result.stdout.splitlines() if re.fullmatch(r"\s*\w+\s*", line))


def _env() -> dict[str, str]:
    import os

    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
