"""Mutation score per module from mutmut's results (its `mutants/<module>.meta` files).

A mutant counts as killed when a test failed on it, timed out or crashed; as not killed when it
survived every test that runs its function or no fast test runs that function at all ("no tests").
The score of a module is killed / (killed + not killed); mutants not yet checked are listed apart.

    .venv/bin/python benchmarks/mutation_scores.py              # the table
    .venv/bin/python benchmarks/mutation_scores.py --survivors  # the names of the mutants not killed
    .venv/bin/python benchmarks/mutation_scores.py --reset      # mark them unchecked: the next
                                                                # `mutmut run` tests them again
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 0.85  # the share of mutants killed that every module is held to (docs/testing.md)

# mutmut's exit codes (mutmut/stats.py, status_by_exit_code) sorted into the score's two sides
KILLED = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          -11: "segfault", -9: "segfault", 37: "caught by type check"}
NOT_KILLED = {0: "survived", 5: "no tests", 33: "no tests", 35: "suspicious"}


def modules() -> list[str]:
    """The modules mutmut mutates, in pyproject.toml's order."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def results(module: str) -> dict[str, int | None]:
    meta = REPO / "mutants" / (module + ".meta")
    return json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}


def score_rows() -> list[dict[str, object]]:
    rows = []
    for module in modules():
        codes = list(results(module).values())
        killed = sum(code in KILLED for code in codes)
        not_killed = sum(code in NOT_KILLED for code in codes)
        rows.append({
            "module": module, "killed": killed, "scored": killed + not_killed,
            "survived": sum(code == 0 for code in codes),
            "no_tests": sum(NOT_KILLED.get(code) == "no tests" for code in codes),
            "unchecked": sum(code not in KILLED and code not in NOT_KILLED for code in codes),
        })
    return rows


def print_table(rows: list[dict[str, object]]) -> bool:
    print(f"{'module':34} {'killed':>7} {'total':>6} {'score':>7}  survived  no tests  unchecked")
    every_module_at_goal = True
    for row in rows:
        share = row["killed"] / row["scored"] if row["scored"] else float("nan")
        every_module_at_goal &= share >= GOAL and not row["unchecked"]
        print(f"{row['module']:34} {row['killed']:7d} {row['scored']:6d} {100 * share:6.1f}%  "
              f"{row['survived']:8d}  {row['no_tests']:8d}  {row['unchecked']:9d}")
    killed, scored = sum(r["killed"] for r in rows), sum(r["scored"] for r in rows)
    print(f"{'all':34} {killed:7d} {scored:6d} {100 * killed / max(scored, 1):6.1f}%")
    return every_module_at_goal


def not_killed() -> list[tuple[str, str]]:
    return [(name, NOT_KILLED[code]) for module in modules() for name, code in results(module).items()
            if code in NOT_KILLED]


def reset_not_killed() -> int:
    """Mark the mutants not killed unchecked (mutmut keeps every other verdict of an unchanged function)."""
    count = 0
    for module in modules():
        meta_path = REPO / "mutants" / (module + ".meta")
        if not meta_path.exists():
            continue
        meta = json.loads(meta_path.read_text())
        for name, code in meta["exit_code_by_key"].items():
            if code in NOT_KILLED:
                meta["exit_code_by_key"][name] = None
                count += 1
        meta_path.write_text(json.dumps(meta, indent=4))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--survivors", action="store_true", help="list the mutants not killed")
    group.add_argument("--reset", action="store_true", help="mark the mutants not killed unchecked")
    args = parser.parse_args(argv)
    if args.survivors:
        for name, status in not_killed():
            print(f"{name}: {status}")
        return 0
    if args.reset:
        print(f"{reset_not_killed()} mutants not killed before are tested again")
        return 0
    return 0 if print_table(score_rows()) else 1


if __name__ == "__main__":
    sys.exit(main())
