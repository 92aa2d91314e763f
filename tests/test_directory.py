"""snakemake --directory DIR (README "Usage"): results/ under DIR, the workflow's own config.yaml
when DIR has none, DIR's config.yaml when it has one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(directory: Path) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(SNAKEMAKE + ["--snakefile", str(REPO / "Snakefile"), "--directory", str(directory), "-n",
                                       "--quiet", "all"],
                          capture_output=True, text=True, env=environment, timeout=300, cwd=REPO)


def test_directory_without_config_uses_the_workflows_config(tmp_path):
    result = dry_run(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "demo_corpus" in result.stdout + result.stderr  # the default config's dataset: the demo


def test_directory_with_its_own_config_uses_that(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["demo"] = "not a mapping"  # invalid on purpose: the run must read this file and say so
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = dry_run(tmp_path)
    assert result.returncode != 0 and "not a mapping" in result.stdout + result.stderr
