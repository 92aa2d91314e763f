"""The benchmarks' Snakemake runs: this checkout's workflow, in a fresh process, timed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def python_env() -> dict[str, str]:
    """The environment of a fresh process that imports this checkout's `avemotion`."""
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def run_snakemake(workdir: Path, *args: str, configfile: Path | None = None, expect_noop: bool = False) -> float:
    """Wall time of one Snakemake call in ``workdir`` (fails loudly if the call fails). Without
    ``configfile`` the workflow takes the working directory's config.yaml, else its own."""
    # targets and options first: --configfile takes every word after it up to the next option
    command = [sys.executable, "-m", "snakemake", *args, "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(workdir)]
    command += ["--configfile", str(configfile)] if configfile is not None else []
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=python_env())
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    if expect_noop and "Nothing to be done" not in result.stdout + result.stderr:
        raise SystemExit("the run directory is not finished: the no-op rerun had jobs to run")
    return elapsed
