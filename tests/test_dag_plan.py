"""The dry-run reader the rerun tests rely on (tests/dag_plan.py) fails on output it cannot read,
instead of reading it as "nothing planned"."""
from __future__ import annotations

import pytest

from dag_plan import DryRunNotUnderstood, assert_nothing_planned, planned_jobs

# The shape of `snakemake -n` output (Snakemake 9): the job-stats table, one block per job, the table again.
JOB_STATS = """Job stats:
job       count
------  -------
fusion        1
report        1
total         2
"""
TWO_JOBS = f"""Building DAG of jobs...
{JOB_STATS}
[Fri Dec  4 20:59:32 2026]
localrule fusion:
    input: results/predictions/vgg_lstm_a.tsv
    output: results/fusion/weights.json
    jobid: 3
    reason: Input files updated by another job: results/predictions/vgg_lstm_a.tsv
    threads: 2
    resources: tmpdir=/tmp, mem_mb=2000, runtime=30

[Fri Dec  4 20:59:32 2026]
localrule report:
    input: results/fusion/weights.json
    output: results/report/summary.md
    jobid: 2
    reason: Input files updated by another job: results/fusion/weights.json
    resources: tmpdir=/tmp, mem_mb=2000, runtime=30
{JOB_STATS}
This was a dry-run (flag -n). The order of jobs does not reflect the order of execution.
"""


def test_job_blocks_are_read_with_their_resources_and_threads():
    jobs = planned_jobs(TWO_JOBS)
    assert [job.rule for job in jobs] == ["fusion", "report"]
    assert jobs[0].threads == 2 and jobs[1].threads == 1  # Snakemake prints threads only above 1
    assert jobs[0].resources["mem_mb"] == "2000" and jobs[0].jobid == "3"


def test_output_with_neither_jobs_nor_nothing_to_be_done_is_not_read_as_an_empty_plan():
    with pytest.raises(DryRunNotUnderstood, match="no job-stats table and no 'Nothing to be done'"):
        planned_jobs("Building DAG of jobs...\nSomething Snakemake never printed before\n")


def test_job_blocks_that_do_not_add_up_to_the_stats_total_fail():
    changed_header = TWO_JOBS.replace("localrule report:", "local rule report:")  # a renamed block header
    with pytest.raises(DryRunNotUnderstood, match="read 1 job blocks, Snakemake's job stats say 2"):
        planned_jobs(changed_header)


def test_nothing_planned_needs_snakemakes_own_words():
    assert planned_jobs("Building DAG of jobs...\nNothing to be done (all requested files are present and up to date).\n") == []
    assert_nothing_planned("Nothing to be done (all requested files are present and up to date).")
    with pytest.raises(AssertionError, match="plans jobs: fusion x1, report x1"):
        assert_nothing_planned(TWO_JOBS)
