"""Per-clip overhead: where the per-clip stages' job time goes, stage by stage.

Runs the per-clip stages (`media`, `faces` for tracks a and b, `audio_features`) through Snakemake
with `--cores 1` on the tiny demo corpus (56 clips) in `config shards` jobs per stage, and reads
each job's wall time from its benchmark file. In the same run it times the same package calls for
the same clips in this one warm process ("work"). Overhead per clip = (the stage's job wall times -
work) / clips (target <= 0.3 s per clip per stage). The overhead of one job is then broken down by
timing, each in a fresh process: starting Python, Snakemake's script preamble (importing
`snakemake.script`), importing the stage's modules and libraries, and the stage's first call beyond
the warm work (building extractors, loading models); the rest is Snakemake's own per-job work
(writing the job's script, unpickling it, bookkeeping). `--shards 56` gives about one clip a job,
the cost of the per-clip jobs before shards.

    PYTHONPATH=. python benchmarks/bench_clip_overhead.py [--shards 8]
"""
from __future__ import annotations

import argparse
import json
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
from avemotion.layout import TIMELINE, WAV, ClipArtifact  # noqa: E402
from benchmarks.snakemake_runs import python_env, run_snakemake  # noqa: E402

TARGET_S = 0.3
# What each stage's script imports before its one package call (workflow_scripts/*.py).
STAGE_IMPORTS = {
    "media": "import avemotion.logs, avemotion.media",
    "faces_a": "import avemotion.logs, avemotion.faces, mediapipe, cv2",
    "faces_b": "import avemotion.logs, avemotion.faces, dlib, cv2",
    "audio_features": "import avemotion.logs, avemotion.audio, opensmile, pyAudioAnalysis.ShortTermFeatures",
}


def snakemake(workdir: Path, *targets: str) -> None:
    run_snakemake(workdir, *targets, "--cores", "1", "--quiet", "all", configfile=workdir / "config.yaml")


def jobs_wall_s(workdir: Path, stage: str) -> tuple[float, int]:
    """The stage's job wall times added up, and its number of jobs."""
    folder = {"faces_a": "faces/a", "faces_b": "faces/b"}.get(stage, stage)
    walls = [float(read_tsv(path)[0]["s"]) for path in (workdir / "results" / "benchmarks" / folder).glob("shard_*.tsv")]
    return sum(walls), len(walls)


class WarmStage:
    """A stage's package calls for one clip at a time, as its shard job makes them, in this process
    (extractors built once, before any timing)."""

    def __init__(self, stage: str, config: dict, workdir: Path, out: Path) -> None:
        self.stage, self.config, self.workdir, self.out = stage, config, workdir, out
        self.extractor = None
        if stage.startswith("faces"):
            from avemotion.faces import FaceTrackExtractor

            self.extractor = FaceTrackExtractor(track_settings(config["faces"], stage[-1]), stage[-1],
                                                config["faces"]["queue_size"])

    def media_file(self, clip: str, artifact: ClipArtifact) -> Path:
        return artifact.path(clip, self.config["shards"], self.workdir)

    def work_s(self, row: dict) -> float:
        clip = row["clip_id"]
        start = time.perf_counter()  # the imports are done already (timed apart)
        if self.stage == "media":
            from avemotion import media

            settings = self.config["media"]
            media.write_timeline(self.out / f"{clip}.timeline.json", clip, row, timeline_fps=settings["timeline_fps"])
            media.extract_audio(media.audio_source(row), self.out / f"{clip}.wav", settings["audio_sample_rate"],
                                has_audio=row["has_audio"] == "true")
        elif self.extractor is not None:
            self.extractor.extract(row["path"], self.media_file(clip, TIMELINE), self.out / f"{self.stage}_{clip}.h5")
        else:
            from avemotion import audio

            outputs = {kind: self.out / f"{kind}_{clip}.h5" for kind in ("is10", "shortterm", "maps")}
            audio.write_audio_artifacts(self.media_file(clip, WAV), outputs, clip, self.config["audio"])
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
    start = time.perf_counter()
    WarmStage(state["stage"], state["config"], Path(state["workdir"]), Path(state["out"])).work_s(state["row"])
    print(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=None, help="config shards (default: config.yaml's)")
    parser.add_argument("--first-call", metavar="STATE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    filter_native_stderr()
    if args.first_call:
        return run_first_call(args.first_call)
    with tempfile.TemporaryDirectory(prefix="bench_clip_") as tmp:
        workdir = Path(tmp)
        config = load_config(REPO / "tests" / "tiny_config.yaml")
        config["shards"] = args.shards or config["shards"]
        (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        snakemake(workdir, "results/manifest.tsv")
        rows = read_manifest(workdir / "results" / "manifest.tsv")
        snakemake(workdir, "results/media/index.tsv", "results/faces/a/index.tsv", "results/faces/b/index.tsv",
                  "results/audio/index.tsv")
        out = workdir / "in_process"
        out.mkdir()
        for row in rows:
            row["path"] = str(workdir / row["path"]) if not Path(row["path"]).is_absolute() else row["path"]
        warm = {stage: WarmStage(stage, config, workdir, out) for stage in STAGE_IMPORTS}
        for stage in warm.values():
            stage.work_s(rows[0])  # warm-up: first-call costs are timed apart
        python_s = fresh_process_s("pass")
        preamble_s = fresh_process_s("import snakemake.script") - python_s
        print(f"{len(rows)} clips in {config['shards']} shards. A job = python {python_s:.2f} + Snakemake's script "
              f"preamble {preamble_s:.2f} + imports + construction + work + rest (seconds)")
        print(f"{'stage':<15} {'jobs':>5} {'job s':>7} {'work s':>7} {'overhead/job':>12} {'imports':>8} "
              f"{'construction':>13} {'rest':>6} {'overhead/clip':>13} {'ratio':>6}")
        for stage, imports in STAGE_IMPORTS.items():
            jobs_s, n_jobs = jobs_wall_s(workdir, stage)
            work = sum(warm[stage].work_s(row) for row in rows)
            per_job = (jobs_s - work) / n_jobs
            per_clip = (jobs_s - work) / len(rows)
            import_s = fresh_process_s(imports) - python_s
            construction = first_call_s(stage, rows[1], config, workdir, out) - warm[stage].work_s(rows[1])
            rest = per_job - python_s - preamble_s - import_s - construction
            print(f"{stage:<15} {n_jobs:5d} {jobs_s:7.1f} {work:7.1f} {per_job:12.2f} {import_s:8.2f} "
                  f"{construction:13.2f} {rest:6.2f} {per_clip:13.3f} {per_clip / TARGET_S:6.2f}")
        for stage in warm.values():
            if stage.extractor is not None:
                stage.extractor.close()
        print(f"overhead/clip = (job s - work s) / clips; ratio = overhead/clip / target {TARGET_S} s (<= 1 meets it)")


if __name__ == "__main__":
    main()
