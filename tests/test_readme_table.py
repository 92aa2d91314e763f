"""benchmarks/readme_demo_table.py prints the README's demo table from a run's results/ and, with
--check, fails when the README shows something else."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from avemotion.constants import MODELS

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "readme_demo_table.py"


def fake_results(root: Path) -> Path:
    (root / "metrics").mkdir(parents=True)
    (root / "fusion").mkdir()
    for k, name in enumerate((*MODELS, "fusion")):
        metrics = {split: {"n": 28, "accuracy": (k + 1) / 10 + (0.05 if split == "test" else 0)} for split in ("val", "test")}
        (root / "metrics" / f"{name}.json").write_text(json.dumps(metrics))
    (root / "fusion" / "weights.json").write_text(json.dumps({"weights": {"audio_svm": 0.6, "inception_lstm": 0.4}}))
    return root


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={"PYTHONPATH": str(REPO)})


def test_table_from_results_and_check_against_a_readme(tmp_path):
    results = fake_results(tmp_path / "results")
    printed = run("--results", str(results))
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.strip().splitlines()
    assert lines[0] == "| model (demo, val n = 28, test n = 28) | val accuracy | test accuracy |"
    assert lines[2] == "| vgg_lstm_a | 10.0 % | 15.0 % |"
    assert lines[-1] == "| fusion (weights 0/0/0.6/0/0.4) | 60.0 % | 65.0 % |"
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n" + printed.stdout + "\nmore text\n")
    assert run("--results", str(results), "--check", str(readme)).returncode == 0
    readme.write_text(readme.read_text().replace("15.0 %", "16.0 %"))
    differs = run("--results", str(results), "--check", str(readme))
    assert differs.returncode == 1 and "16.0 %" in differs.stderr
