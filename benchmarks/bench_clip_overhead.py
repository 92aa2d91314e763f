"""Per-clip overhead (issue 14): where a per-clip job's wall time goes, stage by stage.

Runs the per-clip rules (`media`, `faces` for tracks a and b, `audio_features`) through Snakemake
with `--cores 1` on a few demo clips and reads each job's wall time from its benchmark file. In the
same run it times the same package calls for the same clips in this one warm process ("work").
Overhead = job wall time - work (target <= 0.3 s per clip per stage). The overhead is then broken
down by timing, each in a fresh process: starting Python, Snakemake's script preamble (importing
`snakemake.script`), importing the stage's modules and libraries, and the stage's first call
beyond the warm work (building extractors, loading models); the rest is Snakemake's own per-job
work (writing the job's script, unpickling it, bookkeeping).

    PYTHONPATH=. python benchmarks/bench_clip_overhead.py [--clips 6]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avemotion.artifacts import read_manifest, read_tsv  # noqa: E402
from avemotion.config import load_config, track_settings  # noqa: E402
from avemotion.logs import filter_native_stderr  # noqa: E402

TARGET_S = 0.3
# What each stage's script imports before its one package call (workflow_scripts/*.py).
STAGE_IMPORTS = {
    "media": "import avemotion.logs, avemotion.media",
    "faces_a": "import avemotion.logs, avemotion.faces, mediapipe, cv2",
    "faces_b": "import avemotion.logs, avemotion.faces, dlib, cv2",
    "audio_features": "import avemotion.logs, avemotion.audio, opensmile, pyAudioAnalysis.ShortTermFeatures",
}


def snakemake(workdir: Path, *targets: str) -> None:
    command = [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--configfile", str(workdir / "config.yaml"), "--cores", "1", "--quiet", "all"]
    result = subprocess.run(command, capture_output=True, text=True, env=python_env())
    if result.returncode != 0:
        raise SystemExit(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def python_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def job_outputs(clip: str) -> dict[str, list[str]]:
    return {
        "media": [f"results/media/{clip}.wav", f"results/media/{clip}.timeline.json"],
        "faces_a": [f"results/faces/a/{clip}.h5"],
        "faces_b": [f"results/faces/b/{clip}.h5"],
        "audio_features": [f"results/audio/{kind}/{clip}.h5" for kind in ("is10", "shortterm", "maps")],
    }


def job_wall_s(workdir: Path, stage: str, clip: str) -> float:
    folder = {"faces_a": "faces/a", "faces_b": "faces/b"}.get(stage, stage)
    return float(read_tsv(workdir / "results" / "benchmarks" / folder / f"{clip}.tsv")[0]["s"])


def work_s(stage: str, row: dict, config: dict, workdir: Path, out: Path) -> float:
    """The stage's package calls for one clip, as its script makes them, in this process."""
    clip = row["clip_id"]
    timeline = workdir / "results" / "media" / f"{clip}.timeline.json"
    wav = workdir / "results" / "media" / f"{clip}.wav"
    start = time.perf_counter()  # the imports below are done already (timed apart)
    if stage == "media":
        from avemotion import media

        media.write_timeline(out / f"{clip}.timeline.json", clip, row, timeline_fps=config["media"]["timeline_fps"])
        media.extract_audio(media.audio_source(row), out / f"{clip}.wav", config["media"]["audio_sample_rate"],
                            has_audio=row["has_audio"] == "true")
    elif stage in ("faces_a", "faces_b"):
        from avemotion import faces

        track = stage[-1]
        faces.extract_face_track(row["path"], timeline, out / f"{stage}_{clip}.h5",
                                 track_settings(config["faces"], track), track)
    else:
        from avemotion import audio

        outputs = {kind: out / f"{kind}_{clip}.h5" for kind in ("is10", "shortterm", "maps")}
        audio.write_audio_artifacts(wav, outputs, clip, config["audio"])
    return time.perf_counter() - start


def fresh_process_s(code: str, repeats: int = 3) -> float:
    """Best wall time of `python -c code` in a fresh process."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=python_env())
        best = min(best, time.perf_counter() - start)
    return best


def first_call_s(stage: str, row: dict, config: dict, workdir: Path, out: Path) -> float:
    """The stage's first call for one clip in a fresh process, after its imports (so it includes
    building the extractors)."""
    state = out / f"first_{stage}.json"
    state.write_text(json.dumps({"stage": stage, "row": row, "config": config, "workdir": str(workdir),
                                 "out": str(out)}))
    result = subprocess.run([sys.executable, __file__, "--first-call", str(state)], check=True,
                            capture_output=True, text=True, env=python_env())
    return float(result.stdout.strip().splitlines()[-1])


def run_first_call(state_file: str) -> None:
    state = json.loads(Path(state_file).read_text())
    exec(STAGE_IMPORTS[state["stage"]])
    seconds = work_s(state["stage"], state["row"], state["config"], Path(state["workdir"]), Path(state["out"]))
    print(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6, help="clips whose per-clip jobs are timed")
    parser.add_argument("--first-call", metavar="STATE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    filter_native_stderr()
    if args.first_call:
        return run_first_call(args.first_call)
    with tempfile.TemporaryDirectory(prefix="bench_clip_") as tmp:
        workdir = Path(tmp)
        config = load_config(REPO / "tests" / "tiny_config.yaml")
        (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        snakemake(workdir, "results/manifest.tsv")
        rows = read_manifest(workdir / "results" / "manifest.tsv")[: args.clips + 1]
        warmup, timed = rows[0], rows[1:]
        snakemake(workdir, *[path for row in rows for paths in job_outputs(row["clip_id"]).values() for path in paths])
        out = workdir / "in_process"
        out.mkdir()
        for row in rows:
            row["path"] = str(workdir / row["path"]) if not Path(row["path"]).is_absolute() else row["path"]
        for stage in STAGE_IMPORTS:
            work_s(stage, warmup, config, workdir, out)
        python_s = fresh_process_s("pass")
        preamble_s = fresh_process_s("import snakemake.script") - python_s
        print(f"{len(timed)} clips; mean seconds per clip and stage. A job = python {python_s:.2f} + Snakemake's "
              f"script preamble {preamble_s:.2f} + imports + construction + work + rest")
        print(f"{'stage':<15} {'job':>6} {'work':>6} {'overhead':>8} {'ratio':>6} {'imports':>8} {'construction':>13} {'rest':>6}")
        for stage, imports in STAGE_IMPORTS.items():
            jobs = statistics.mean(job_wall_s(workdir, stage, row["clip_id"]) for row in timed)
            work = statistics.mean(work_s(stage, row, config, workdir, out) for row in timed)
            overhead = jobs - work
            import_s = fresh_process_s(imports) - python_s
            construction = min(first_call_s(stage, row, config, workdir, out) for row in timed[:2]) - work
            rest = overhead - python_s - preamble_s - import_s - construction
            print(f"{stage:<15} {jobs:6.2f} {work:6.2f} {overhead:8.2f} {overhead / TARGET_S:6.2f} {import_s:8.2f} "
                  f"{construction:13.2f} {rest:6.2f}")
        print(f"overhead = job - work; ratio = overhead / target {TARGET_S} s (<= 1 meets it)")


if __name__ == "__main__":
    main()
