"""The paper config's face track through Snakemake, on AFEW-like clips: frames per second of the
`faces` jobs on one core, against the 100 frames/s target (<= 10 ms a unique 720x576 frame).

Writes an AFEW-shaped folder of `--clips` labelled clips (XviD AVI, 720x576, 25 fps, `--seconds`
long, real faces animated as in the demo corpus; `tests/dataset_fixtures.write_afew_fixture`), then
runs the workflow with `--cores 1` up to `results/faces/a/index.tsv` with configs/paper.yaml's
`faces:` block (track A: dlib with `follow`, 224-px faces, `gzip_level` 0) over config.yaml, in
`--shards` shard jobs. Snakemake's benchmark file of each `faces` job gives its wall and CPU seconds;
the face stacks give the unique frames each job analysed. Two rates are printed: per job, all of it
(Python's start, imports, building the dlib models and the face check, every clip), and per frame
after subtracting the same stage's cost for a shard of one 0.5-s clip run the same way (the fixed
start-up cost of a job).

    PYTHONPATH=. python benchmarks/bench_paper_faces_workflow.py [--clips 25] [--seconds 3] [--shards 1]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from avemotion.artifacts import read_tsv  # noqa: E402
from avemotion.config import load_config  # noqa: E402
from benchmarks.snakemake_runs import run_snakemake  # noqa: E402
from dataset_fixtures import write_afew_fixture  # noqa: E402

TARGET_FPS = 100.0
TARGET = "results/faces/a/index.tsv"


def paper_faces_config(dataset_dir: Path, shards: int) -> dict:
    """config.yaml with the paper config's face settings, an AFEW dataset and no pretraining files
    (this benchmark runs only the per-clip stages)."""
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    config = load_config()
    config["faces"] = {**config["faces"], **{k: v for k, v in paper["faces"].items() if not k.startswith("track")}}
    config["faces"]["track_a"] = paper["faces"]["track_a"]
    config["dataset"].update(kind="afew", path=str(dataset_dir))
    config["probe"]["require_audio"] = False
    config["shards"] = shards
    return config


def faces_jobs(workdir: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, unique frames) summed over the track-A faces jobs of a finished run."""
    wall = cpu = 0.0
    for table in (workdir / "results" / "benchmarks" / "faces" / "a").glob("shard_*.tsv"):
        row = read_tsv(table)[0]
        wall, cpu = wall + float(row["s"]), cpu + float(row["cpu_time"])
    frames = sum(int(row["n_unique_frames"]) for row in read_tsv(workdir / TARGET))
    return wall, cpu, frames


def run(root: Path, name: str, clips: int, seconds: float, shards: int) -> tuple[float, float, int]:
    dataset = root / f"{name}_afew"
    write_afew_fixture(dataset, seed=3, train=clips, val=0, test=0, duration_s=(seconds, seconds), faces=False,
                       anomalies=False)
    workdir = root / name
    workdir.mkdir()
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(paper_faces_config(dataset, shards), sort_keys=False))
    run_snakemake(workdir, TARGET, "--cores", "1", configfile=configfile)
    return faces_jobs(workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_paper_faces_") as tmp:
        root = Path(tmp)
        start_wall, start_cpu, start_frames = run(root, "start", 1, 0.5, 1)
        wall, cpu, frames = run(root, "clips", args.clips, args.seconds, args.shards)
    jobs = args.shards
    print(f"{args.clips} AFEW-like clips of {args.seconds:g} s (720x576 XviD, 25 fps), {frames} unique frames, "
          f"{jobs} faces job(s) for track A, --cores 1")
    print(f"one job's fixed cost (a shard of one {start_frames}-frame clip): {start_wall:.1f} s wall, "
          f"{start_cpu:.1f} s CPU")
    for label, total, fixed in (("wall", wall, start_wall * jobs), ("CPU", cpu, start_cpu * jobs)):
        whole = frames / total
        line = f"{label}: jobs {total:.1f} s = {whole:.0f} frames/s (ratio {whole / TARGET_FPS:.2f} to {TARGET_FPS:.0f})"
        if total > fixed:
            per_frame = frames / (total - fixed)
            line += (f"; without the jobs' fixed cost {per_frame:.0f} frames/s = {1000 / per_frame:.1f} ms a frame "
                     f"(ratio {per_frame / TARGET_FPS:.2f})")
        else:
            line += "; the fixed cost measured more than the whole run: rerun on a quieter machine"
        print(line)


if __name__ == "__main__":
    main()
