"""The deep models' training loaders alone (no model) at the paper config's shapes: samples/s and faces/s
for 0, 1 and 2 loader workers, memory per worker, and the workers a GPU node needs to feed its GPU.

    PYTHONPATH=. python benchmarks/bench_data_path.py [--clips 24] [--workers 0 1 2] [--seconds 6]
        [--device cpu] [--paper-scale-json OUT.json] [--storage] [--json OUT] [--quick]

Artifacts come from the pipeline's own stage code, in a temporary folder: 224-px face stacks of 3-s
25-fps clips (75 faces, the 60-fps timeline of 180 frames) written with
`avemotion.faces.stack.FaceStackWriter` and `finish_stack` as the face stage writes them (one chunk
per face, compressed at the paper config's `faces.gzip_level`), the faces being aligned-looking crops of two real photos (skimage's astronaut,
matplotlib's Grace Hopper) that drift, turn and change light from frame to frame, with sensor noise (so
they compress like faces, not like flat test patterns); short-term sequences and 34x34 maps written by
`avemotion.audio` from 3-s 16-kHz wavs. The stages, datasets, batch sizes and collate functions are the
ones the pipeline trains (`avemotion.models.pipelines.*_recipe` on configs/paper.yaml merged over
config.yaml: single faces at frame_batch_size, 16-face windows at the paper's gap at
sequence_batch_size, the audio LSTM's padded batches, single maps, 8-map windows), each loaded through
`avemotion.models.training.make_loader` with `--device`'s pinning, for `--seconds` after its first
batches (worker start-up is reported apart).

Per worker: RSS, PSS (shared pages split among the processes that map them) and USS (private) from
/proc/PID/smaps_rollup, the largest seen while it ran. The loader rate a GPU must be fed: the VGG-16
faces/s of `--paper-scale-json` (`bench_paper_scale.py --device cuda --json`) when given, else 5,000
faces/s, an estimate: VGG-16 training at ~45 % of an H100/H200's dense bf16 peak of ~990 TFLOPS at
~93 GFLOP per 224-px face forward+backward. Goal: the paper config's `models.training.num_workers`
delivers >= 1.2x that rate: as measured when `--workers` includes it, else that many workers at the
per-worker rate measured here (the lower of the 1- and 2-worker rates: on a 2-core machine the
second worker shares the cores with the first and the consuming process, so this is pessimistic).

--storage: the same faces in other HDF5 layouts (gzip 1, lzf, uncompressed chunked and contiguous):
bytes per face and ms per random single-face read, to tell whether decoding the stacks is what
limits a worker; a 16-face window read as FaceSequences reads it (one h5py list index) against 16
single-row reads; and the face loaders again on copies of the stacks at the other compression
(gzip 1 when the paper config stores faces uncompressed, uncompressed otherwise).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import torch

from avemotion.config import load_config
from avemotion.constants import CLASSES
from avemotion.models import data, pipelines
from avemotion.models.clips import Clip
from avemotion.models.training import Stage, TrainSettings, make_loader

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO / "configs" / "paper.yaml"
CLIP_SECONDS = 3.0
SOURCE_FPS = 25.0
DEFAULT_GPU_FACES_PER_S = 5000.0
GPU_RATE_ESTIMATE = ("5,000 faces/s, estimated (no GPU measurement given): VGG-16 training at ~45 % of an "
                     "H100/H200's dense bf16 peak of ~990 TFLOPS, ~93 GFLOP per 224-px face forward+backward")
HEADROOM = 1.2
SAMPLE_RATE = 16000
PREFETCH_BATCHES = 4  # make_loader's prefetch_factor


@dataclass
class Measurement:
    model: str
    stage: str
    workers: int
    batch_size: int
    faces_per_sample: int  # 0: not a face stage
    startup_s: float
    batches: int
    seconds: float
    samples_per_s: float
    faces_per_s: float
    per_worker_samples_per_s: float
    main_rss_mb: float
    worker_memory_mb: list[dict] = field(default_factory=list)  # per worker: rss, pss, uss


@dataclass(frozen=True)
class Corpus:
    faces: dict[str, Path]
    shortterm: dict[str, Path]
    maps: dict[str, Path]
    labels: dict[str, str]

    def clips(self, files: dict[str, Path]) -> list[Clip]:
        return [Clip(clip_id, "train", self.labels[clip_id], path, "ok", "") for clip_id, path in files.items()]


def real_photos() -> list[tuple[np.ndarray, tuple[float, float], float]]:
    """(RGB photo, face centre, face width in px) of the two portraits the face tests use."""
    import matplotlib
    import skimage.data
    from PIL import Image

    hopper = np.asarray(Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB"))
    return [(skimage.data.astronaut(), (225.0, 110.0), 90.0), (hopper, (267.0, 210.0), 186.0)]


def aligned_faces(photo: np.ndarray, centre: tuple[float, float], width: float, n: int, size: int,
                  rng: np.random.Generator) -> np.ndarray:
    """`n` size-px crops of the photo's face as an aligner would cut them from a moving subject: a
    drift of a few px, a turn of a few degrees, light changing, and sensor noise."""
    import cv2

    t = np.arange(n) / SOURCE_FPS
    phase = rng.uniform(0, 2 * np.pi, 4)
    faces = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        scale = size / (2.0 * width) * (1 + 0.03 * np.sin(1.3 * t[i] + phase[0]))
        angle = 4.0 * np.sin(0.9 * t[i] + phase[1])
        cx = centre[0] + 3.0 * np.sin(2.1 * t[i] + phase[2])
        cy = centre[1] + 3.0 * np.sin(1.7 * t[i] + phase[3])
        matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        matrix[:, 2] += (size / 2 - cx, size / 2 - cy)
        face = cv2.warpAffine(photo, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        light = 0.85 + 0.15 * np.sin(0.5 * t[i] + phase[0])
        noisy = face.astype(np.float32) * light + rng.normal(0, 2.0, face.shape)
        faces[i] = noisy.clip(0, 255).astype(np.uint8)
    return faces


def write_face_stack(path: Path, clip_id: str, faces: np.ndarray, method: str, n_landmarks: int,
                     gzip_level: int) -> None:
    """One clip's face stack as the face stage writes it: every source frame's face, the 60-fps timeline."""
    from avemotion.faces.frames import Timeline
    from avemotion.faces.stack import FaceStackWriter, finish_stack

    n_frames = len(faces)
    n_timeline = int(np.floor(n_frames / SOURCE_FPS * 60))
    timeline = np.minimum(np.floor(np.arange(n_timeline) * SOURCE_FPS / 60 + 1e-9).astype(int), n_frames - 1)
    clip_timeline = Timeline(clip_id, SOURCE_FPS, timeline, np.unique(timeline))
    with h5py.File(path, "w") as handle:
        writer = FaceStackWriter(handle, faces.shape[1], n_landmarks, gzip_level=gzip_level)
        for frame, face in enumerate(faces):
            writer.add(frame, face, np.zeros((n_landmarks, 2), np.float32), np.zeros((4, 2), np.float32), 1.0)
        finish_stack(handle, writer, clip_timeline, method, faces.shape[1], "a", None)


def speech_like_wav(path: Path, rng: np.random.Generator) -> None:
    """3 s of a voiced, pitch-gliding, syllable-modulated signal with noise, PCM16 mono."""
    from scipy.io import wavfile

    t = np.arange(int(CLIP_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 140 + 40 * np.sin(2 * np.pi * rng.uniform(0.3, 0.8) * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(3, 5) * t))
    signal = 0.25 * voiced * syllables + 0.01 * rng.normal(size=t.size)
    wavfile.write(path, SAMPLE_RATE, (signal / np.abs(signal).max() * 0.5 * 32767).astype(np.int16))


def write_corpus(root: Path, n_clips: int, config: dict) -> Corpus:
    from avemotion.audio.artifacts import write_maps_artifact, write_shortterm_artifact
    from avemotion.audio.settings import AudioChecks, MapSettings, ShortTermSettings

    size, gzip_level = int(config["faces"]["size"]), int(config["faces"]["gzip_level"])
    method = str(config["faces"]["track_a"]["method"])
    n_landmarks = {"dlib": 68, "mediapipe": 478}.get(method, 0)
    audio = config["audio"]
    checks = AudioChecks.from_config(audio["checks"])
    shortterm_settings = ShortTermSettings.from_config(audio["shortterm"])
    map_settings = MapSettings.from_config(audio["maps"])
    rng = np.random.default_rng(0)
    photos = real_photos()
    n_faces = int(round(CLIP_SECONDS * SOURCE_FPS))
    corpus = Corpus({}, {}, {}, {})
    for folder in ("faces", "wav", "shortterm", "maps"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for k in range(n_clips):
        clip_id = f"clip_{k:04d}"
        corpus.labels[clip_id] = CLASSES[k % len(CLASSES)]
        photo, centre, width = photos[k % len(photos)]
        corpus.faces[clip_id] = root / "faces" / f"{clip_id}.h5"
        write_face_stack(corpus.faces[clip_id], clip_id, aligned_faces(photo, centre, width, n_faces, size, rng),
                         method, n_landmarks, gzip_level)
        wav = root / "wav" / f"{clip_id}.wav"
        speech_like_wav(wav, rng)
        corpus.shortterm[clip_id] = root / "shortterm" / f"{clip_id}.h5"
        corpus.maps[clip_id] = root / "maps" / f"{clip_id}.h5"
        status = write_shortterm_artifact(wav, corpus.shortterm[clip_id], clip_id, checks, shortterm_settings)
        status = status if status != "ok" else write_maps_artifact(corpus.shortterm[clip_id], corpus.maps[clip_id],
                                                                   clip_id, map_settings)
        if status != "ok":
            raise SystemExit(f"{clip_id}: the audio stage quarantined the benchmark's audio ({status})")
    return corpus


def paper_stages(config: dict, corpus: Corpus) -> list[tuple[str, Stage, int]]:
    """(model, stage, faces per sample) for every stage of the three deep models that reads artifacts,
    as the pipeline's recipes build them from the paper config."""
    models = config["models"]
    vgg = dict(models["vgg_lstm"], fer2013_csv="")  # step (a)'s FER-2013 images live in memory
    recipes = [("vgg_lstm", pipelines.vgg_lstm_recipe(corpus.clips(corpus.faces), vgg, 0)),
               ("audio_lstm", pipelines.audio_lstm_recipe(corpus.clips(corpus.shortterm), dict(models["audio_lstm"]), 0)),
               ("inception_lstm", pipelines.inception_lstm_recipe(corpus.clips(corpus.maps),
                                                                  dict(models["inception_lstm"]), 0))]
    faces_per_sample = {("vgg_lstm", "frames"): 1, ("vgg_lstm", "sequences"): int(vgg["sequence_length"])}
    return [(model, stage, faces_per_sample.get((model, stage.name), 0))
            for model, recipe in recipes for stage in recipe.stages if len(stage.dataset) > 0]


def process_memory_mb(pid: int) -> dict[str, float]:
    """RSS, PSS and USS (private clean + dirty) of a process, MiB."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                values[key] = float(rest.split()[0]) / 1024
    except OSError:
        return {}
    return {"rss": values.get("Rss", 0.0), "pss": values.get("Pss", 0.0),
            "uss": values.get("Private_Clean", 0.0) + values.get("Private_Dirty", 0.0)}


def loader_pids(iterator) -> list[int]:
    return [worker.pid for worker in getattr(iterator, "_workers", [])]


def largest(memory: list[dict], sample: list[dict]) -> list[dict]:
    if not memory:
        return sample
    return [{key: max(a.get(key, 0.0), b.get(key, 0.0)) for key in ("rss", "pss", "uss")}
            for a, b in zip(memory, sample)]


def measure(model: str, stage: Stage, faces_per_sample: int, workers: int, seconds: float,
            device: torch.device) -> Measurement:
    """Batches of `stage` through the training loader with `workers` workers for `seconds`. The time
    to the first batch is the start-up; then the batches the workers prefetched meanwhile are taken
    untimed, so the timed ones are made while they are waited for."""
    long_stage = dataclasses.replace(stage, iterations=10**9)
    settings = TrainSettings(num_workers=workers)
    start = time.perf_counter()
    iterator = iter(make_loader(long_stage, settings, 0, 0, device))
    next(iterator)
    startup = time.perf_counter() - start
    drain_until = time.perf_counter() + seconds
    for _ in range(PREFETCH_BATCHES * max(1, workers) + 2):
        next(iterator)
        if time.perf_counter() > drain_until:  # a slow stage: its prefetched batches are long gone
            break
    memory: list[dict] = []
    batches, start = 0, time.perf_counter()
    next_sample = start
    while (elapsed := time.perf_counter() - start) < seconds or batches < 3:
        next(iterator)
        batches += 1
        if time.perf_counter() >= next_sample:
            memory = largest(memory, [process_memory_mb(pid) for pid in loader_pids(iterator)])
            next_sample = time.perf_counter() + 0.5
    main_rss = process_memory_mb(os.getpid()).get("rss", 0.0)
    del iterator
    samples_per_s = batches * stage.batch_size / elapsed
    return Measurement(model, stage.name, workers, stage.batch_size, faces_per_sample, startup, batches, elapsed,
                       samples_per_s, samples_per_s * faces_per_sample, samples_per_s / max(1, workers), main_rss,
                       memory)


def gpu_faces_per_s(paper_scale_json: str | None, sequence_length: int) -> tuple[dict[str, float], str]:
    """{stage: faces/s the GPU trains} and where the figure comes from."""
    if not paper_scale_json:
        return {"frames": DEFAULT_GPU_FACES_PER_S, "sequences": DEFAULT_GPU_FACES_PER_S}, GPU_RATE_ESTIMATE
    report = json.loads(Path(paper_scale_json).read_text())
    if not str(report.get("device", "")).startswith("cuda"):
        raise SystemExit(f"{paper_scale_json}: not a CUDA run of bench_paper_scale.py ({report.get('device')})")
    rows = {row["stage"]: row for row in report["rows"] if row["model"] == "vgg_lstm"}
    rates = {"frames": rows["frames"]["samples_per_s"], "sequences": rows["sequences"]["samples_per_s"] * sequence_length}
    return rates, f"measured: {report['device']} ({paper_scale_json})"


def read_seconds(read: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        read()
    return (time.perf_counter() - start) / repeat


def storage_layouts() -> dict[str, dict]:
    """HDF5 layouts of a face stack's `faces` (h5py create_dataset options; chunks None = contiguous)."""
    return {
        "gzip 1, a chunk per face (faces.gzip_level 1)": {"compression": "gzip", "compression_opts": 1,
                                                          "chunked": True},
        "lzf, a chunk per face": {"compression": "lzf", "chunked": True},
        "uncompressed, a chunk per face (faces.gzip_level 0)": {"compression": None, "chunked": True},
        "uncompressed, contiguous": {"compression": None, "chunked": False},
    }


def write_faces(path: Path, faces: np.ndarray, layout: dict) -> None:
    options = {"compression": layout["compression"], "chunks": (1, *faces.shape[1:]) if layout["chunked"] else None}
    if layout["compression"] == "gzip":
        options["compression_opts"] = layout["compression_opts"]
    with h5py.File(path, "w") as handle:
        handle.create_dataset("faces", data=faces, **options)


def compare_layouts(corpus: Corpus, root: Path, n_faces: int = 600) -> list[dict]:
    """The same faces in each of `storage_layouts`: bytes and ms per face of random single-face reads;
    and zlib's inflate of level-1 chunks without HDF5."""
    import zlib

    stacks = [h5py.File(path, "r") for path in corpus.faces.values()]
    faces = np.concatenate([handle["faces"][:] for handle in stacks])[:n_faces]
    for handle in stacks:
        handle.close()
    order = np.random.default_rng(0).permutation(len(faces))
    results = []
    for index, (name, layout) in enumerate(storage_layouts().items()):
        path = root / f"layout_{index}.h5"
        write_faces(path, faces, layout)
        with h5py.File(path, "r") as handle:
            dataset = handle["faces"]
            read_seconds(lambda: [dataset[int(row)] for row in order[:50]], 1)
            seconds = read_seconds(lambda: [dataset[int(row)] for row in order], 2) / len(order)
        results.append({"layout": name, "bytes_per_face": path.stat().st_size / len(faces),
                        "ms_per_face": 1000 * seconds, "faces_per_s": 1 / seconds})
    chunks = [zlib.compress(face.tobytes(), 1) for face in faces]
    seconds = read_seconds(lambda: [zlib.decompress(chunk) for chunk in chunks], 2) / len(chunks)
    results.append({"layout": "zlib inflate of level-1 chunks alone (no HDF5)",
                    "bytes_per_face": float(np.mean([len(c) for c in chunks])), "ms_per_face": 1000 * seconds,
                    "faces_per_s": 1 / seconds})
    return results


def compare_window_reads(corpus: Corpus, length: int) -> list[dict]:
    """ms per `length`-face window, one window from each face stack: one single-row read per face,
    then h5py's list index of the same rows (`data.read_rows`, as FaceSequences reads a window).
    Single whole-chunk reads bypass HDF5's chunk cache, so the list index finds nothing cached."""
    single, fancy = [], []
    for path in corpus.faces.values():
        with h5py.File(path, "r") as handle:
            dataset = handle["faces"]
            rows = np.linspace(0, dataset.shape[0] - 1, length).astype(int)
            single.append(read_seconds(lambda: np.stack([dataset[int(row)] for row in rows]), 1))
            fancy.append(read_seconds(lambda: data.read_rows(dataset, rows), 1))
    return [{"read": f"{length} rows by list index (data.read_rows)", "ms_per_window": 1000 * float(np.median(fancy))},
            {"read": f"{length} single-row reads", "ms_per_window": 1000 * float(np.median(single))}]


def recompressed_copy(corpus: Corpus, root: Path, gzip_level: int) -> Corpus:
    """The corpus with every face stack's faces rewritten at `gzip_level` (0: uncompressed), a chunk
    per face, the other datasets and attrs as written."""
    folder = root / f"faces_gzip_{gzip_level}"
    folder.mkdir(exist_ok=True)
    faces = {}
    compression = {"compression": "gzip", "compression_opts": gzip_level} if gzip_level > 0 else {}
    for clip_id, path in corpus.faces.items():
        faces[clip_id] = folder / path.name
        with h5py.File(path, "r") as source, h5py.File(faces[clip_id], "w") as target:
            for key, value in source.attrs.items():
                target.attrs[key] = value
            for name in source:
                if name != "faces":
                    source.copy(name, target)
            stack = source["faces"][:]
            target.create_dataset("faces", data=stack, chunks=(1, *stack.shape[1:]), **compression)
    return dataclasses.replace(corpus, faces=faces)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def describe_machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version})")


def worker_rate(rows: list[Measurement], model: str, stage: str) -> tuple[float, float | None, float | None]:
    """faces/s per worker with 1 worker, with 2 workers (None when not measured), and the scaling
    (2 workers' per-worker rate / 1 worker's)."""
    by_workers = {m.workers: m.faces_per_s for m in rows if m.model == model and m.stage == stage}
    one, two = by_workers.get(1), by_workers.get(2)
    per_worker_two = two / 2 if two is not None else None
    scaling = per_worker_two / one if one and per_worker_two is not None else None
    return one or 0.0, per_worker_two, scaling


def print_table(rows: list[Measurement]) -> None:
    header = (f"{'model':15s} {'stage':10s} {'batch':>5s} {'workers':>7s} {'start s':>7s} {'batches':>7s} "
              f"{'samples/s':>10s} {'faces/s':>9s} {'/worker':>9s} {'main RSS':>9s}  worker RSS / PSS / USS MiB")
    print(header)
    print("-" * len(header))
    for m in rows:
        memory = "; ".join(f"{w['rss']:.0f}/{w['pss']:.0f}/{w['uss']:.0f}" for w in m.worker_memory_mb) or "-"
        faces = f"{m.faces_per_s:9.0f}" if m.faces_per_sample else f"{'-':>9s}"
        per_worker = m.per_worker_samples_per_s * (m.faces_per_sample or 1)
        print(f"{m.model:15s} {m.stage:10s} {m.batch_size:5d} {m.workers:7d} {m.startup_s:7.2f} {m.batches:7d} "
              f"{m.samples_per_s:10.1f} {faces} {per_worker:9.1f} {m.main_rss_mb:9.0f}  {memory}", flush=True)


def feeding_verdict(rows: list[Measurement], gpu_rates: dict[str, float], source: str, num_workers: int,
                    cores: int) -> list[dict]:
    """Per face stage: the faces/s to feed (HEADROOM x the GPU's), the per-worker rate taken, the
    workers that needs, and what the paper config's num_workers deliver: as measured when that many
    workers ran here, else that many times the per-worker rate."""
    print(f"\nGPU rate: {source}; the loader must deliver {HEADROOM:g}x it")
    verdicts = []
    for stage in ("frames", "sequences"):
        one, two, scaling = worker_rate(rows, "vgg_lstm", stage)
        if not one:
            continue
        per_worker = min(one, two) if two is not None else one
        target = HEADROOM * gpu_rates[stage]
        needed = math.ceil(target / per_worker)
        measured = next((m.faces_per_s for m in rows if m.model == "vgg_lstm" and m.stage == stage
                         and m.workers == num_workers), None)
        delivered = measured if measured is not None else num_workers * per_worker
        verdict = {"stage": stage, "gpu_faces_per_s": gpu_rates[stage], "target_faces_per_s": target,
                   "per_worker_1": one, "per_worker_2": two, "scaling_1_to_2": scaling,
                   "per_worker_taken": per_worker, "workers_needed": needed, "paper_num_workers": num_workers,
                   "paper_workers_deliver": delivered, "paper_workers_measured": measured is not None,
                   "ok": delivered >= target, "fits_16_core_node": needed <= 16 - 2}
        verdicts.append(verdict)
        scaling_text = f", {scaling:.2f}x per worker from 1 to 2 workers" if scaling is not None else ""
        how = "measured" if measured is not None else f"{num_workers} x {per_worker:.0f}"
        print(f"vgg_lstm {stage}: {per_worker:.0f} faces/s per worker{scaling_text}; {target:.0f} faces/s need "
              f"{needed} workers (a 16-core node leaves 14 beside the training process and its pinning thread); "
              f"num_workers {num_workers} deliver {delivered:.0f} faces/s ({how}) = {delivered / gpu_rates[stage]:.2f}x "
              f"the GPU: {'ok' if verdict['ok'] else 'TOO FEW'} (this machine: {cores} cores)")
    return verdicts


def storage_report(corpus: Corpus, root: Path, config: dict, args: argparse.Namespace,
                   device: torch.device) -> dict:
    """Print and return the layout table, the window reads, and the face loaders again on stacks at
    the other compression (gzip 1 when the paper config stores faces uncompressed, else none)."""
    layouts = compare_layouts(corpus, root)
    print("\nface stack layouts (the same faces; random single-face reads, one process):")
    for row in layouts:
        print(f"  {row['layout']:52s} {row['bytes_per_face'] / 1024:7.1f} KiB/face "
              f"{row['ms_per_face']:7.3f} ms/face {row['faces_per_s']:8.0f} faces/s")
    windows = compare_window_reads(corpus, int(config["models"]["vgg_lstm"]["sequence_length"]))
    print("a training window of one stack:")
    for row in windows:
        print(f"  {row['read']:52s} {row['ms_per_window']:8.2f} ms")
    other_level = 1 if int(config["faces"]["gzip_level"]) == 0 else 0
    print(f"the face loaders on the same stacks with faces.gzip_level {other_level}:")
    other = recompressed_copy(corpus, root, other_level)
    rows = [measure(model, stage, faces_per_sample, workers, args.seconds, device)
            for model, stage, faces_per_sample in paper_stages(config, other) if model == "vgg_lstm"
            for workers in args.workers]
    print_table(rows)
    return {"layouts": layouts, "windows": windows, "other_gzip_level": other_level,
            "other_gzip_level_rows": [dataclasses.asdict(m) for m in rows]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=24, help="3-s clips written (faces and audio)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, default=6.0, help="timed seconds per stage and worker count")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="cuda: the loaders pin memory as training on a GPU does")
    parser.add_argument("--paper-scale-json", default=None, help="bench_paper_scale.py --device cuda --json output")
    parser.add_argument("--only", default=None, help="only stages of this model (vgg_lstm, audio_lstm, inception_lstm)")
    parser.add_argument("--storage", action="store_true", help="also compare HDF5 layouts of the face stacks")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="8 clips, 1.5 s per measurement")
    args = parser.parse_args()
    if args.quick:
        args.clips, args.seconds = min(args.clips, 8), min(args.seconds, 1.5)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available here")
    torch.set_num_threads(1)  # the loader workers, not torch ops, do the work measured here
    config = load_config(PAPER_CONFIG)
    device = torch.device(args.device)
    print(f"machine {describe_machine()}; code of {git_commit()}")
    with tempfile.TemporaryDirectory(prefix="bench_data_path_") as folder:
        start = time.perf_counter()
        corpus = write_corpus(Path(folder), args.clips, config)
        face_bytes = np.mean([p.stat().st_size for p in corpus.faces.values()]) / (CLIP_SECONDS * SOURCE_FPS)
        print(f"wrote {args.clips} clips of {CLIP_SECONDS:g} s at {SOURCE_FPS:g} fps ({config['faces']['size']}-px "
              f"faces, faces.gzip_level {config['faces']['gzip_level']}, {face_bytes / 1024:.0f} KiB a face on disk) "
              f"in {time.perf_counter() - start:.1f} s; "
              f"{args.seconds:g} s timed per row, loaders pin memory: {device.type == 'cuda'}")
        rows: list[Measurement] = []
        for model, stage, faces_per_sample in paper_stages(config, corpus):
            if args.only and model != args.only:
                continue
            for workers in args.workers:
                rows.append(measure(model, stage, faces_per_sample, workers, args.seconds, device))
        print_table(rows)
        gpu_rates, source = gpu_faces_per_s(args.paper_scale_json, int(config["models"]["vgg_lstm"]["sequence_length"]))
        num_workers = int(config["models"]["training"]["num_workers"])
        verdicts = feeding_verdict(rows, gpu_rates, source, num_workers, os.cpu_count() or 1)
        storage = storage_report(corpus, Path(folder), config, args, device) if args.storage else {}
    if args.json:
        report = {"machine": describe_machine(), "commit": git_commit(), "clips": args.clips,
                  "seconds": args.seconds, "device": args.device, "gpu_rate_source": source,
                  "gpu_faces_per_s": gpu_rates, "headroom": HEADROOM, "paper_num_workers": num_workers,
                  "rows": [dataclasses.asdict(m) for m in rows], "verdicts": verdicts, "storage": storage}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
