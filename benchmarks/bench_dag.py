"""DAG build time for a large dataset: `snakemake -n` on a 10,000-clip manifest (target <= 30 s).

Makes, in a temporary directory, a `list` dataset of N empty clip files, its manifest.tsv and
quarantine.tsv (newer than the clips, so the manifest checkpoint counts as done) and the media
stage's timeline files, then times a dry run of the whole workflow, which has to plan every
per-clip job of every later stage. The same is measured for a small manifest in the same run, so
the per-clip cost and the fixed cost can be told apart. `--profile` adds a cProfile of the large
dry run (top functions by cumulative time).

    PYTHONPATH=. python benchmarks/bench_dag.py [--clips 10000] [--profile]
"""
from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avemotion.artifacts import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, write_tsv  # noqa: E402
from avemotion.config import load_config  # noqa: E402
from avemotion.constants import CLASSES  # noqa: E402
from avemotion.layout import TIMELINE, WAV  # noqa: E402

TARGET_S = 30.0
TARGET_CLIPS = 10_000


def make_dataset(root: Path, n_clips: int, with_media: bool = True, shards: int | None = None) -> Path:
    """A finished manifest of n_clips fake clips (and, with_media, their timelines and wavs in their
    shard folders, so that the media stage counts as done); returns the config file. ``shards``:
    the config's shard count (None: config.yaml's)."""
    clips = root / "clips"
    clips.mkdir(parents=True)
    rows, lines = [], ["path,label,split"]
    splits = ("train", "train", "train", "val", "test")
    for index in range(n_clips):
        clip_id = f"clip{index:06d}"
        label, split = CLASSES[index % len(CLASSES)], splits[index % len(splits)]
        (clips / f"{clip_id}.mp4").touch()
        lines.append(f"{clip_id}.mp4,{label},{split}")
        rows.append({"clip_id": clip_id, "split": split, "label": label, "path": str(clips / f"{clip_id}.mp4"),
                     "dataset": "list", "duration_s": 2.0, "fps": 25.0, "n_frames": 50, "width": 96,
                     "height": 72, "has_audio": True})
    (clips / "list.csv").write_text("\n".join(lines) + "\n")
    time.sleep(0.01)
    results = root / "run" / "results"
    write_tsv(results / "manifest.tsv", MANIFEST_COLUMNS, rows)
    write_tsv(results / "quarantine.tsv", QUARANTINE_COLUMNS, [])
    config = load_config()
    config["shards"] = shards or config["shards"]
    for row in rows if with_media else []:
        timeline = {"clip_id": row["clip_id"], "source_fps": 25.0, "n_source_frames": 50, "timeline_fps": 60}
        timeline_path = TIMELINE.path(row["clip_id"], config["shards"], results.parent)
        timeline_path.parent.mkdir(parents=True, exist_ok=True)
        timeline_path.write_text(json.dumps(timeline))
        WAV.path(row["clip_id"], config["shards"], results.parent).touch()
    config["dataset"].update(kind="list", path=str(clips / "list.csv"))
    configfile = root / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return configfile


def dry_run_command(root: Path, configfile: Path) -> list[str]:
    return ["-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(root / "run"),
            "--configfile", str(configfile), "-n", "--cores", "1", "--quiet", "rules"]


def time_dry_run(root: Path, configfile: Path) -> tuple[float, int]:
    """Wall time of the dry run and the number of jobs it plans."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    result = subprocess.run([sys.executable] + dry_run_command(root, configfile), capture_output=True,
                            text=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"dry run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    totals = re.findall(r"^total\s+(\d+)\s*$", result.stdout + result.stderr, flags=re.M)
    return elapsed, int(totals[-1]) if totals else 0


def profile_dry_run(root: Path, configfile: Path, top: int = 25) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    stats_file = root / "dag.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats_file)] + dry_run_command(root, configfile),
                   capture_output=True, text=True, env=env, check=True)
    stats = pstats.Stats(str(stats_file))
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=TARGET_CLIPS)
    parser.add_argument("--small", type=int, default=100, help="clips in the small baseline manifest")
    parser.add_argument("--shards", type=int, default=200,
                        help="config shards for both manifests (config.yaml suggests ~clips/50: 200 for 10,000)")
    parser.add_argument("--profile", action="store_true", help="cProfile the large dry run")
    parser.add_argument("--no-media", action="store_true",
                        help="leave out the timeline/wav files: the dry run then plans the media jobs too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dag_") as tmp:
        small_root, large_root = Path(tmp) / "small", Path(tmp) / "large"
        small_config = make_dataset(small_root, args.small, not args.no_media, args.shards)
        large_config = make_dataset(large_root, args.clips, not args.no_media, args.shards)
        small_s, small_jobs = time_dry_run(small_root, small_config)
        large_s, large_jobs = time_dry_run(large_root, large_config)
        per_clip_ms = (large_s - small_s) / (args.clips - args.small) * 1000
        print(f"dry run, {args.small:>6} clips: {small_s:7.2f} s, {small_jobs} jobs planned")
        print(f"dry run, {args.clips:>6} clips: {large_s:7.2f} s, {large_jobs} jobs planned (target {TARGET_S:.0f} s for {TARGET_CLIPS}: "
              f"ratio {large_s / TARGET_S:.2f}, <= 1 meets it)")
        print(f"per clip: {per_clip_ms:.2f} ms; fixed cost ~{small_s - per_clip_ms * args.small / 1000:.2f} s; "
              f"extrapolated to {TARGET_CLIPS}: {small_s + per_clip_ms * (TARGET_CLIPS - args.small) / 1000:.1f} s")
        if args.profile:
            profile_dry_run(large_root, large_config)


if __name__ == "__main__":
    main()
