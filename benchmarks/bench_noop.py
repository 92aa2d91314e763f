"""No-op rerun time of a finished demo run (target <= 3 s): `snakemake --cores 2` when nothing is
left to do, as a user does after every edit of config.yaml.

Uses the run directory given with --workdir (a finished run, with its config.yaml), or makes one with
the shared tiny test config (tests/tiny_config.yaml; takes minutes). The baseline measured in the same
run is Snakemake's floor for this workflow: `snakemake --list-rules` (start-up and parsing the
Snakefile, no DAG), so the part of the no-op time that the DAG and the file checks cost shows.

    PYTHONPATH=. python benchmarks/bench_noop.py [--workdir DIR] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avemotion.config import load_config  # noqa: E402
from benchmarks.snakemake_runs import run_snakemake  # noqa: E402

TARGET_S = 3.0


def finished_demo_run(root: Path) -> tuple[Path, Path]:
    workdir = root / "demo_run"
    workdir.mkdir()
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(load_config(REPO / "tests" / "tiny_config.yaml"), sort_keys=False))
    print("making a finished tiny demo run (minutes) ...", flush=True)
    run_snakemake(workdir, "--cores", "2", "--quiet", "all", configfile=configfile)
    return workdir, configfile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="a finished run directory (with its config.yaml)")
    parser.add_argument("--configfile", type=Path, help="default: WORKDIR/config.yaml")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_noop_") as tmp:
        if args.workdir:
            workdir, configfile = args.workdir, args.configfile or args.workdir / "config.yaml"
        else:
            workdir, configfile = finished_demo_run(Path(tmp))
        floor = min(run_snakemake(workdir, "--list-rules", configfile=configfile) for _ in range(args.repeat))
        noop = min(run_snakemake(workdir, "--cores", "2", configfile=configfile, expect_noop=True)
                   for _ in range(args.repeat))
        print(f"snakemake --list-rules (start-up + parse, the floor): {floor:6.2f} s")
        print(f"no-op rerun (nothing to be done):                     {noop:6.2f} s "
              f"(target {TARGET_S:.0f} s: ratio {noop / TARGET_S:.2f}, <= 1 meets it)")
        print(f"no-op / floor: {noop / floor:.2f} (DAG + file checks cost {noop - floor:.2f} s)")


if __name__ == "__main__":
    main()
