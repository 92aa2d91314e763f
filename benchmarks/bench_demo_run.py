"""The demo from a clean results/ (target: <= 6 minutes on 2 cores, fused val accuracy >= 0.9).

Runs `snakemake --cores 2` with the workflow's config.yaml in a fresh directory (or, with --workdir,
reads a run that already finished there, with its `wall_s` file or --wall-s) and prints the wall
time against the target, the fused val accuracy, and per rule the number of jobs and the wall and
CPU seconds of its jobs added up (from the rules' benchmark files), so that it shows where the
minutes go.

    PYTHONPATH=. python benchmarks/bench_demo_run.py [--workdir DIR [--wall-s S]] [--cores 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avemotion.artifacts import read_tsv  # noqa: E402
from benchmarks.snakemake_runs import run_snakemake  # noqa: E402

TARGET_S = 6 * 60.0
TARGET_FUSED_VAL = 0.9


def run_demo(workdir: Path, cores: int) -> float:
    wall_s = run_snakemake(workdir, "--cores", str(cores), "--quiet", "all")
    (workdir / "wall_s").write_text(f"{wall_s:.1f}\n")
    return wall_s


def rule_times(results: Path) -> dict[str, tuple[int, float, float]]:
    """{rule: (jobs, wall s, CPU s)} from results/benchmarks/<rule>/... (one folder per rule)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(results / "benchmarks").parts[0]
        for row in read_tsv(path):
            totals[rule][0] += 1
            totals[rule][1] += float(row["s"])
            totals[rule][2] += float(row.get("cpu_time") or 0.0)
    return {rule: (int(jobs), wall, cpu) for rule, (jobs, wall, cpu) in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="a finished demo run to read instead of running one")
    parser.add_argument("--wall-s", type=float, help="the finished run's wall time (default: its wall_s file)")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_demo_run_") as tmp:
        workdir = args.workdir or Path(tmp)
        if args.workdir is None:
            wall_s = run_demo(workdir, args.cores)
        else:
            wall_s = args.wall_s or float((workdir / "wall_s").read_text())
        results = workdir / "results"
        fused_val = json.loads((results / "metrics" / "fusion.json").read_text())["val"]["accuracy"]
        print(f"{'rule':<16} {'jobs':>5} {'wall s':>8} {'CPU s':>8}")
        for rule, (jobs, wall, cpu) in sorted(rule_times(results).items(), key=lambda item: -item[1][1]):
            print(f"{rule:<16} {jobs:5d} {wall:8.1f} {cpu:8.1f}")
        print(f"demo from a clean results/ on {args.cores} cores: {wall_s:.0f} s (target {TARGET_S:.0f} s: ratio "
              f"{wall_s / TARGET_S:.2f}, <= 1 meets it); fused val accuracy {fused_val:.3f} "
              f"(target >= {TARGET_FUSED_VAL})")


if __name__ == "__main__":
    main()
