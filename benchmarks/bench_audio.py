"""Audio stage speed: real-time factors per feature and for the stage, and the stage's
throughput divided by that of the bare library calls on the same audio (target >= 0.9).

Run: PYTHONPATH=. python benchmarks/bench_audio.py [--clips 12] [--repeats 3]

"Bare" is what the stage cannot avoid: reading the wav, openSMILE IS10 on it and pyAudioAnalysis'
short-term features on it. "Stage" is the three per-clip package functions the rules call
(quality checks, DC removal, finiteness guards, padding, maps, HDF5 writes). Both sides reuse one
openSMILE extractor per process, as one Snakemake job does for its clip; the per-job cost of starting
Python and Snakemake's script wrapper is Snakemake's, not the stage's, and is reported separately.
Bare and stage runs alternate clip by clip, and each part's best total over the repeats is kept, so that load from other
processes on the machine hits both alike.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

from avemotion import audio
from avemotion.audio import AudioChecks, MapSettings, ShortTermSettings
from avemotion.config import load_config

FS = 16000
SENTENCES = (
    "I cannot believe you did that again, honestly I am so angry right now.",
    "What a wonderful surprise, thank you so much for coming all this way.",
    "Please leave me alone, I do not want to talk about it anymore.",
)


def make_speech_clips(directory: Path, n_clips: int) -> list[Path]:
    """Real espeak-ng speech at 16 kHz, clips of 1.5 to 6 s (AFEW clips are 1-5 s)."""
    voices = []
    for i, sentence in enumerate(SENTENCES):
        raw = directory / f"voice{i}.wav"
        subprocess.run(["/usr/bin/espeak-ng", "-w", str(raw), "-s", "140", "-p", str(30 + 15 * i), sentence],
                       check=True, capture_output=True)
        rate, samples = wavfile.read(raw)
        voices.append(resample_poly(samples.astype(np.float64), 320, 441))
    speech = np.concatenate(voices * 3)
    rng = np.random.default_rng(0)
    paths = []
    for k in range(n_clips):
        length = int(rng.uniform(1.5, 6.0) * FS)
        start = int(rng.integers(0, len(speech) - length))
        path = directory / f"clip{k:03d}.wav"
        wavfile.write(path, FS, np.clip(np.round(speech[start:start + length]), -32768, 32767).astype(np.int16))
        paths.append(path)
    return paths


def run_bare(paths: list[Path]) -> dict[str, float]:
    from pyAudioAnalysis import ShortTermFeatures

    smile = audio.is10_extractor()
    seconds = {"read": 0.0, "is10": 0.0, "shortterm": 0.0}
    for path in paths:
        t0 = time.perf_counter()
        fs, x = wavfile.read(path)
        t1 = time.perf_counter()
        smile.process_signal(x.astype(np.float32) / 32768, fs)
        t2 = time.perf_counter()
        ShortTermFeatures.feature_extraction(x, fs, int(0.1 * fs), int(0.05 * fs), deltas=False)
        t3 = time.perf_counter()
        seconds["read"] += t1 - t0
        seconds["is10"] += t2 - t1
        seconds["shortterm"] += t3 - t2
    return seconds


def run_stage(paths: list[Path], out: Path) -> dict[str, float]:
    settings = load_config()["audio"]
    checks = AudioChecks.from_config(settings["checks"])
    shortterm, maps = ShortTermSettings.from_config(settings["shortterm"]), MapSettings.from_config(settings["maps"])
    seconds = {"is10": 0.0, "shortterm": 0.0, "maps": 0.0}
    for path in paths:
        clip = path.stem
        t0 = time.perf_counter()
        assert audio.write_is10_artifact(path, out / "is10" / f"{clip}.h5", clip, checks) == "ok"
        t1 = time.perf_counter()
        audio.write_shortterm_artifact(path, out / "shortterm" / f"{clip}.h5", clip, checks, shortterm)
        t2 = time.perf_counter()
        audio.write_maps_artifact(out / "shortterm" / f"{clip}.h5", out / "maps" / f"{clip}.h5", clip, maps)
        t3 = time.perf_counter()
        seconds["is10"] += t1 - t0
        seconds["shortterm"] += t2 - t1
        seconds["maps"] += t3 - t2
    return seconds


def measure_job_startup() -> float:
    """What a separate process pays before the first clip: Python, imports, building the extractor."""
    code = ("import time; t=time.perf_counter(); import avemotion.audio as a; a.is10_extractor(); "
            "a.short_term_feature_names(); print(time.perf_counter()-t)")
    import os
    import sys

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_audio_"))
    try:
        paths = make_speech_clips(work, args.clips)
        audio_s = sum(wavfile.read(p)[1].size for p in paths) / FS
        run_bare(paths[:1]), run_stage(paths[:1], work / "warmup")  # imports, extractor, caches
        bare_runs, stage_runs = [], []
        for repeat in range(args.repeats):  # alternate clip by clip, so load spikes hit both sides
            bare_run = dict.fromkeys(("read", "is10", "shortterm"), 0.0)
            stage_run = dict.fromkeys(("is10", "shortterm", "maps"), 0.0)
            for path in paths:
                for part, seconds in run_bare([path]).items():
                    bare_run[part] += seconds
                for part, seconds in run_stage([path], work / f"out{repeat}").items():
                    stage_run[part] += seconds
            bare_runs.append(bare_run)
            stage_runs.append(stage_run)
        bare = {part: min(run[part] for run in bare_runs) for part in bare_runs[0]}
        stage = {part: min(run[part] for run in stage_runs) for part in stage_runs[0]}
        startup = measure_job_startup()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bare_total, stage_total = sum(bare.values()), sum(stage.values())
    print(f"audio: {len(paths)} clips, {audio_s:.1f} s of speech at {FS} Hz; best of {args.repeats} runs; "
          "real-time factor = audio seconds per processing second (one core)")
    print(f"{'':28s}{'seconds':>10s}{'x real time':>14s}")
    rows = [
        ("bare: read wav", bare["read"]),
        ("bare: openSMILE IS10", bare["is10"]),
        ("bare: pyAudioAnalysis 34", bare["shortterm"]),
        ("bare: all", bare_total),
        ("stage: is10 artifact", stage["is10"]),
        ("stage: shortterm artifact", stage["shortterm"]),
        ("stage: maps artifact", stage["maps"]),
        ("stage: all", stage_total),
    ]
    for name, seconds in rows:
        print(f"{name:28s}{seconds:10.3f}{audio_s / seconds:14.1f}")
    ratio = bare_total / stage_total
    print(f"stage throughput / bare library throughput = {ratio:.3f} (target >= 0.9): "
          f"{'PASS' if ratio >= 0.9 else 'FAIL'}")
    print(f"per-process start (python, imports, IS10 extractor), paid once per Snakemake job: {startup:.2f} s")


if __name__ == "__main__":
    main()
