"""Demo corpus generation speed: wall time of the tiny (4/2/2) and default (8/4/4) corpora, with 1 and
2 worker processes, and the pool's speed-up measured in the same run.

    PYTHONPATH=. python benchmarks/bench_demo.py [--default]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from avemotion.demo import generate_demo_corpus

REPO = Path(__file__).resolve().parents[1]


def time_generation(demo: dict, threads: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as out_dir:
        start = time.perf_counter()
        generate_demo_corpus(Path(out_dir), demo["seed"], demo["clips_per_class"], tuple(demo["duration_s"]),
                             frame_sizes=demo.get("frame_sizes"), frame_rates=demo.get("frame_rates"),
                             threads=threads)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--default", action="store_true", help="also time the default config (112 clips)")
    args = parser.parse_args()
    default = yaml.safe_load((REPO / "config.yaml").read_text())["demo"]
    tiny = {**default, **yaml.safe_load((REPO / "tests" / "tiny_config.yaml").read_text())["demo"]}
    corpora = [("tiny", tiny)] + ([("default", default)] if args.default else [])
    for name, demo in corpora:
        n_clips = 7 * sum(demo["clips_per_class"].values())
        serial = time_generation(demo, threads=1)
        pooled = time_generation(demo, threads=2)
        print(f"{name}: {n_clips} clips; 1 worker {serial:.1f} s ({serial / n_clips:.2f} s/clip); "
              f"2 workers {pooled:.1f} s; speed-up x{serial / pooled:.2f}")


if __name__ == "__main__":
    main()
