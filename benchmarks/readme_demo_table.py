"""The README's demo table, printed from a finished run's results/, so that the
README shows what a run of the committed code produces.

    python benchmarks/readme_demo_table.py [--results results] [--check README.md]

--check: exit 1 (and print both) when the README's table differs from the run's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from avemotion.constants import MODELS

TABLE_START = "| model (demo,"


def percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def demo_table(results: Path) -> str:
    metrics = {name: json.loads((results / "metrics" / f"{name}.json").read_text()) for name in (*MODELS, "fusion")}
    weights = json.loads((results / "fusion" / "weights.json").read_text())["weights"]
    n_val, n_test = metrics["fusion"]["val"]["n"], metrics["fusion"]["test"]["n"]
    lines = [f"| model (demo, val n = {n_val}, test n = {n_test}) | val accuracy | test accuracy |", "|---|---|---|"]
    for name in MODELS:
        lines.append(f"| {name} | {percent(metrics[name]['val']['accuracy'])} | "
                     f"{percent(metrics[name]['test']['accuracy'])} |")
    shares = "/".join(f"{weights.get(name, 0):g}" for name in MODELS)
    lines.append(f"| fusion (weights {shares}) | {percent(metrics['fusion']['val']['accuracy'])} | "
                 f"{percent(metrics['fusion']['test']['accuracy'])} |")
    return "\n".join(lines)


def readme_table(readme: Path) -> str:
    lines = readme.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TABLE_START))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[start:end])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--check", type=Path, help="compare with the table in this README")
    args = parser.parse_args()
    table = demo_table(args.results)
    print(table)
    if args.check and readme_table(args.check) != table:
        print(f"\n{args.check} has instead:\n{readme_table(args.check)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
