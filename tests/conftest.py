"""Shared fixtures. `demo_run` runs the whole workflow once per test session on a tiny demo corpus
(config.yaml with tests/tiny_config.yaml merged over it) in a temporary directory; end-to-end tests
read its results instead of running their own."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from avemotion.config import load_config

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# Per-test time limits (pytest-timeout; a test's own @pytest.mark.timeout wins): a hung Snakemake or
# SLURM run fails its test instead of stalling the suite. A slow test's limit includes the setup of
# the fixtures it is the first to ask for (the shared demo run: ~10 min on 2 cores); the SLURM test
# may first install and start the cluster (up to 15 min) before its 30-min run.
TIMEOUT_S = {"slurm": 5400, "slow": 3600}
FAST_TIMEOUT_S = 300


def timeout_for(markers: set[str]) -> int:
    return next((seconds for marker, seconds in TIMEOUT_S.items() if marker in markers), FAST_TIMEOUT_S)


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("timeout"):
        raise pytest.UsageError("pytest-timeout is not installed: run `bash setup.sh` (requirements.txt pins it); "
                                "without it a hung Snakemake or SLURM run would stall the suite")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(timeout_for({marker.name for marker in item.iter_markers()})))


def tiny_config() -> dict:
    return load_config(REPO / "tests" / "tiny_config.yaml")


def run_snakemake(workdir: Path, *args: str, configfile: Path | None = None, check: bool = True,
                  timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run the repository's workflow with working directory `workdir` (results/ lands there)."""
    command = SNAKEMAKE + ["--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    command += list(args)
    environment = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


def model_outputs(root: Path, name: str):
    """Where a model trained in a test writes its artifacts, laid out like results/."""
    from avemotion.models import ModelOutputs

    folder = root / "models" / name
    return ModelOutputs.of(folder / "checkpoint.pt", folder / "train_log.csv", folder / "curve.png",
                           root / "predictions" / f"{name}.tsv", root / "metrics" / f"{name}.json")


@dataclass
class DemoRun:
    workdir: Path
    configfile: Path
    config: dict

    @property
    def results(self) -> Path:
        return self.workdir / "results"

    def snakemake(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_snakemake(self.workdir, *args, configfile=self.configfile, check=check)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One finished workflow run on the tiny demo corpus, shared by every end-to-end test."""
    workdir = tmp_path_factory.mktemp("demo_run")
    config = tiny_config()
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    run = DemoRun(workdir=workdir, configfile=configfile, config=config)
    run.snakemake("--cores", "2")
    return run


@pytest.fixture
def report_reads(monkeypatch: pytest.MonkeyPatch) -> "Counter[Path]":
    """How often the report's table reads each file (read_tsv, read_predictions), counted as it builds."""
    import avemotion.report.table

    reads: Counter[Path] = Counter()

    def counted(read):
        def read_and_count(path):
            reads[Path(path)] += 1
            return read(path)
        return read_and_count

    for name in ("read_tsv", "read_predictions"):
        monkeypatch.setattr(avemotion.report.table, name, counted(getattr(avemotion.report.table, name)))
    return reads
