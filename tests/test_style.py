"""The checks a workflow user expects to pass: `snakemake --lint`, `snakefmt --check` on the rule
files and `ruff check` on the Python (errors only, pyproject.toml's [tool.ruff]). The tools are
project requirements: a missing one fails here."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_tool(*command: str) -> subprocess.CompletedProcess:
    tool = BIN / command[0]
    assert tool.is_file(), f"{tool} is not installed (pip install -r requirements.txt)"
    environment = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([str(tool), *command[1:]], cwd=REPO, capture_output=True, text=True, timeout=240,
                          env=environment)


def test_snakefmt_leaves_the_rule_files_as_they_are():
    rule_files = ["Snakefile", *sorted(str(p.relative_to(REPO)) for p in (REPO / "rules").glob("*.smk"))]
    result = run_tool("snakefmt", "--check", *rule_files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_no_error():
    result = run_tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_lint_is_clean():
    result = run_tool("snakemake", "--lint")
    assert result.returncode == 0 and "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr


def test_model_rules_are_declarations_not_generated():
    code = [line for line in (REPO / "rules" / "models.smk").read_text().splitlines() if not line.lstrip().startswith("#")]
    generated = [line for line in code if line.strip() in ("rule:", "name:") or line.lstrip().startswith("for ")]
    assert generated == [], f"rules generated in a loop: {generated}"
