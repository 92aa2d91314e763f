"""Training speed of each deep model at the paper's sizes, and the hours the paper's schedule would take
on this machine.

    PYTHONPATH=. python benchmarks/bench_paper_scale.py [--steps N] [--warmup 1] [--device auto]
                                                        [--only MODEL] [--json OUT] [--quick]
                                                        [--precision auto|bf16]

Each stage of each deep model is built at the paper's size (configs/paper.yaml merged over
config.yaml) and trained for a few optimisation steps on synthetic in-memory batches, with the
stage's solver (`training.Solver.from_config`: the config's optimizer, weight decay, gradient
clipping; `map_solver` for the single-map stage), the pipelines' parameter groups, autocast and
the per-step work of `avemotion.models.training.run_stages` (no data loading: `bench_training.py`
covers the loader; random weights: VGG-Face initialisation does not change a step's cost). Per
stage it prints steps/s and samples/s as measured, steps/s at the paper batch, the peak memory and
the hours of the stage's iterations:

    vgg_lstm        fer2013 + frames: VGG-16 (width 1.0, plain, "mean" input) on single 224x224 faces
                    at frame_batch_size (the FER-2013 stage is timed by the frame stage: its 48x48 grey
                    images are resized to 224 inside the model, so a step costs about the same);
                    sequences: VGG up to fc6 + LSTM(128) on 16-face sequences at sequence_batch_size
    inception_lstm  maps: BN-Inception (width 1.0) on single 34x34 maps at batch_size;
                    sequences: Inception-LSTM(128) over 8 maps at sequence_batch_size
    audio_lstm      LSTM(512) on 34-dim short-term sequences at batch_size; every sequence has
                    --audio-length vectors (default 60 = a 3-s clip at the 50-ms step; AFEW clips run
                    ~1-5 s), packed with their lengths as training packs them

Projected hours = iterations / steps per second at the paper batch. The paper's full experiment
trains the VGG-LSTM twice (face tracks a and b), the audio LSTM and the Inception-LSTM once, and
retrains all of them on train+val for the test submission (refit): 2 x (2 vgg_lstm + audio_lstm +
inception_lstm). The audio SVM (the fifth model) is a CPU grid search and is not timed here.

Each timed step is timed on its own and the fastest counts (the machine may be shared); a stage
takes more than --steps timed steps while they add up to less than --min-time seconds (3).
CUDA: paper batches, bf16 autocast (`training.autocast`), channels-last conv weights
(`training.to_memory_format`, as `run_stages` builds the model) and image inputs, 10 timed steps
after the warm-up, torch.cuda.synchronize around each step, torch.cuda.max_memory_allocated per
stage (reset before each stage is built; weights, gradients, optimizer state and activations).
CPU: the 224x224 stages are far too slow at the paper batches (VGG-16 forward+backward is ~0.7 s
per face on 2 cores), so they run --cpu-batch frames / --cpu-seq-batch sequences (default 2 / 1) and
the per-sample throughput is projected to the paper batch (marked "proj" in the table): this assumes
a step's time is linear in the batch, which was not checked at the paper batches. The 34x34 and audio stages
run their paper batches on CPU too. CPU memory is ru_maxrss: the peak of the whole process so far,
not of one stage (stages run smallest first, so each row's value is mostly its own).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from avemotion.config import load_config
from avemotion.models.heads import AudioLSTM
from avemotion.models.inception import BNInception, InceptionLSTM
from avemotion.models.training import (PRECISIONS, Solver, Stage, gpu_numerics, make_optimizer, seed_everything,
                                       select_device, step_seed, to_memory_format, train_step)
from avemotion.models.vgg import VGGLSTM, vgg16_from_config, vgg_param_groups

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO / "configs" / "paper.yaml"
MODELS = ("audio_lstm", "inception_lstm", "vgg_lstm")  # smallest first: ru_maxrss only grows
N_SHORT_TERM = 34
MAP_SIZE = 34
MAX_TIMED_STEPS = 200

# the keys this benchmark reads from the merged paper config (block path -> keys); solver keys as
# `training.Solver.from_config` reads them
SOLVER = ("optimizer", "lr", "momentum", "weight_decay", "lr_step_iterations", "lr_gamma")
REQUIRED = {
    "vgg_lstm": ("width_multiplier", "input_size", "batch_norm", "input_normalization", "lstm_hidden",
                 "sequence_length", "fer_iterations", "frame_iterations", "sequence_iterations", "frame_batch_size",
                 "sequence_batch_size", "sequence_lr", "sequence_head_lr_multiplier", *SOLVER),
    "inception_lstm": ("width_multiplier", "lstm_hidden", "sequence_length", "map_iterations", "batch_size",
                       "sequence_iterations", "sequence_batch_size", "map_solver", *SOLVER),
    "inception_lstm.map_solver": SOLVER,
    "audio_lstm": ("hidden", "iterations", "batch_size", *SOLVER),
}


@dataclass
class Plan:
    """One timed stage: how to build it, its inputs, and which paper iterations its speed stands for."""

    model: str
    stage: str
    what: str
    build: Callable[[], nn.Module]
    make_inputs: Callable[[int, torch.device], object]  # batch size, device -> model inputs
    paper_batch: int
    iterations: dict[str, int]  # paper stage name -> iterations timed by this stage
    solver: Solver
    param_groups: Callable | None = None
    cpu_batch: int | None = None  # None: the paper batch also on CPU
    sample_unit: str = "samples"  # what one batch item is
    channels_last_inputs: bool = False  # CUDA: make the 4-d image batch channels_last here


@dataclass
class Row:
    model: str
    stage: str
    what: str
    batch: int
    paper_batch: int
    projected: bool
    step_seconds: list[float]  # each timed step
    steps_per_s: float
    samples_per_s: float
    paper_steps_per_s: float
    peak_memory_mb: float
    memory_kind: str
    iterations: dict[str, int] = field(default_factory=dict)
    hours: float = 0.0


def paper_blocks() -> dict[str, dict]:
    config = load_config(PAPER_CONFIG)
    where = f"{PAPER_CONFIG.relative_to(REPO)} (merged over config.yaml)"
    for path, keys in REQUIRED.items():
        block = config.get("models", {})
        for part in path.split("."):
            block = block.get(part) if isinstance(block, dict) else None
        if not isinstance(block, dict):
            raise SystemExit(f"{where} has no models.{path} block")
        missing = [key for key in keys if key not in block]
        if missing:
            raise SystemExit(f"{where} lacks models.{path}."
                             f"{{{', '.join(missing)}}}: this benchmark reads them and will not guess them")
    return {model: config["models"][model] for model in MODELS}


def plans(blocks: dict[str, dict], args: argparse.Namespace) -> list[Plan]:
    vgg, inception, audio = blocks["vgg_lstm"], blocks["inception_lstm"], blocks["audio_lstm"]
    size, length = int(vgg["input_size"]), int(vgg["sequence_length"])
    n_maps, audio_length = int(inception["sequence_length"]), args.audio_length

    def build_vgg():
        return vgg16_from_config(vgg)  # random weights: VGG-Face init does not change a step's cost

    head_multiplier = float(vgg["sequence_head_lr_multiplier"])

    def faces(shape):
        # uint8 0..255 RGB faces as the face files store them; the model converts and normalises
        return lambda batch, device: torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, device=device)

    def audio_inputs(batch, device):
        lengths = torch.full((batch,), audio_length, dtype=torch.int64)
        return (torch.randn(batch, audio_length, N_SHORT_TERM, device=device), lengths)

    return [
        Plan("audio_lstm", "sequences", f"LSTM({audio['hidden']}) on {audio_length}x{N_SHORT_TERM} sequences",
             lambda: AudioLSTM(N_SHORT_TERM, int(audio["hidden"])), audio_inputs, int(audio["batch_size"]),
             {"sequences": int(audio["iterations"])}, Solver.from_config(audio), sample_unit="seqs"),
        Plan("inception_lstm", "maps", f"BN-Inception x{inception['width_multiplier']} on {MAP_SIZE}x{MAP_SIZE} maps",
             lambda: BNInception(float(inception["width_multiplier"])),
             lambda batch, device: torch.randn(batch, 1, MAP_SIZE, MAP_SIZE, device=device),
             int(inception["batch_size"]), {"maps": int(inception["map_iterations"])},
             Solver.from_config(inception["map_solver"]), sample_unit="maps"),
        Plan("inception_lstm", "sequences", f"Inception-LSTM({inception['lstm_hidden']}) over {n_maps} maps",
             lambda: InceptionLSTM(BNInception(float(inception["width_multiplier"])), int(inception["lstm_hidden"])),
             lambda batch, device: torch.randn(batch, n_maps, MAP_SIZE, MAP_SIZE, device=device),
             int(inception["sequence_batch_size"]), {"sequences": int(inception["sequence_iterations"])},
             Solver.from_config(inception),
             sample_unit="seqs"),
        Plan("vgg_lstm", "frames", f"VGG-16 x{vgg['width_multiplier']} on {size}x{size} faces",
             build_vgg, faces((3, size, size)), int(vgg["frame_batch_size"]),
             {"fer2013": int(vgg["fer_iterations"]), "frames": int(vgg["frame_iterations"])}, Solver.from_config(vgg),
             lambda m, lr: vgg_param_groups(m, lr, m.fc8), cpu_batch=args.cpu_batch, sample_unit="faces",
             channels_last_inputs=True),
        Plan("vgg_lstm", "sequences", f"VGG-LSTM({vgg['lstm_hidden']}) on {length} faces of {size}x{size}",
             lambda: VGGLSTM(build_vgg(), int(vgg["lstm_hidden"])), faces((length, 3, size, size)),
             int(vgg["sequence_batch_size"]), {"sequences": int(vgg["sequence_iterations"])},
             Solver.from_config(vgg, lr_key="sequence_lr"),
             lambda m, lr: vgg_param_groups(m, lr, m.head, head_multiplier), cpu_batch=args.cpu_seq_batch,
             sample_unit="seqs"),
    ]


def channels_last(inputs, plan: Plan, device: torch.device, precision: str):
    """With the GPU path's numerics, the single-face VGG-16 batch goes channels_last here (training
    leaves it NCHW and the channels-last weights make the convs NHWC; VGGLSTM and BNInception make
    their own conv inputs channels_last on CUDA)."""
    if gpu_numerics(device, precision) and plan.channels_last_inputs:
        return inputs.contiguous(memory_format=torch.channels_last)
    return inputs


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20, "cuda max_memory_allocated (this stage)"
    scale = 1 if platform.system() == "Darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, "ru_maxrss (whole process so far)"


def run_plan(plan: Plan, batch: int, steps: int, warmup: int, min_time: float, device: torch.device,
             precision: str = "auto") -> Row:
    """`warmup` + `steps` optimisation steps as `run_stages` takes them (more timed steps while the
    timed ones took under `min_time` seconds, at most MAX_TIMED_STEPS); each timed step is timed on
    its own and the fastest counts."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    stage = Stage(plan.stage, lambda _: None, [], steps + warmup, batch, plan.solver, plan.param_groups)
    torch.manual_seed(step_seed(0, 0, -1))
    model = to_memory_format(plan.build().to(device), device, precision)  # as run_stages builds it
    model.train()
    optimizer = make_optimizer(stage, model)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(1)
    batches = [(channels_last(plan.make_inputs(batch, device), plan, device, precision),
                torch.randint(0, 7, (batch,), generator=generator).to(device)) for _ in range(min(2, steps + warmup))]
    times = []
    step = 0
    while step < warmup + steps or (sum(times) < min_time and len(times) < MAX_TIMED_STEPS):
        synchronize(device)
        start = time.perf_counter()
        inputs, targets = batches[step % len(batches)]
        torch.manual_seed(step_seed(0, 0, step))
        # training's own step (the schedule's rate does not change a step's cost)
        train_step(stage, model, optimizer, loss_fn, inputs, targets, plan.solver.lr, device, precision)
        synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
        step += 1
    memory, memory_kind = peak_memory(device)
    del model, optimizer, batches
    steps_per_s = 1.0 / min(times)  # the fastest timed step: the machine may be shared
    samples_per_s = steps_per_s * batch
    paper_steps_per_s = samples_per_s / plan.paper_batch
    hours = sum(plan.iterations.values()) / paper_steps_per_s / 3600
    return Row(plan.model, plan.stage, plan.what, batch, plan.paper_batch, batch != plan.paper_batch, times,
               steps_per_s, samples_per_s, paper_steps_per_s, memory, memory_kind, plan.iterations, hours)


def describe_device(device: torch.device, precision: str = "auto") -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name()} (bf16 autocast, channels_last, torch {torch.__version__})"
    numerics = "bf16 autocast, channels_last" if gpu_numerics(device, precision) else "fp32"
    return (f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads, {numerics}, torch {torch.__version__}")


def hms(hours: float) -> str:
    return f"{hours:9.1f} h" if hours < 48 else f"{hours:9.1f} h ({hours / 24:.1f} d)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per stage (default: 10 on CUDA, 2 on CPU)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before the timed ones")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--only", choices=MODELS, default=None, help="one model (totals then cover only it)")
    parser.add_argument("--json", default=None, help="also write the rows and totals to this JSON file")
    parser.add_argument("--cpu-batch", type=int, default=2, help="CPU: faces per VGG-16 frame step")
    parser.add_argument("--cpu-seq-batch", type=int, default=1, help="CPU: sequences per VGG-LSTM step")
    parser.add_argument("--audio-length", type=int, default=60,
                        help="short-term vectors per audio sequence (60 = 3 s at the 50-ms step)")
    parser.add_argument("--min-time", type=float, default=3.0,
                        help="keep timing steps until the timed ones took this many seconds (cheap stages)")
    parser.add_argument("--quick", action="store_true",
                        help="1 timed step per stage, no --min-time (CPU: ~1 minute)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="bf16: the CUDA path's bf16 autocast and channels-last also on the CPU (a dry run "
                             "of that path; its CPU speed means nothing)")
    args = parser.parse_args()
    blocks = paper_blocks()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available here")
    device = select_device(args.device)
    steps = 1 if args.quick else args.steps or (10 if device.type == "cuda" else 2)
    seed_everything(0)  # as run_stages: deterministic algorithms (warn only), no cudnn.benchmark
    print(f"device {describe_device(device, args.precision)}")
    print(f"paper config {PAPER_CONFIG.relative_to(REPO)} (merged over config.yaml); {args.warmup} warm-up + "
          f"{steps} timed steps per stage (more up to {0.0 if args.quick else args.min_time:g} s of timed steps); "
          f"synthetic in-memory batches (no data loading)")

    rows: list[Row] = []
    header = (f"{'model':15s} {'stage':10s} {'batch':>5s} {'paper':>5s} {'steps/s':>8s} {'samples/s':>16s} "
              f"{'paper steps/s':>14s} {'peak MiB':>9s} {'iterations':>11s} {'hours':>8s}")
    print(header)
    print("-" * len(header))
    for plan in plans(blocks, args):
        if args.only and plan.model != args.only:
            continue
        batch = plan.paper_batch if device.type == "cuda" or plan.cpu_batch is None else plan.cpu_batch
        row = run_plan(plan, batch, steps, args.warmup, 0.0 if args.quick else args.min_time, device, args.precision)
        rows.append(row)
        print(f"{row.model:15s} {row.stage:10s} {row.batch:5d} {row.paper_batch:5d} {row.steps_per_s:8.3f} "
              f"{row.samples_per_s:10.2f} {plan.sample_unit:5s} {row.paper_steps_per_s:9.4f}"
              f"{' proj' if row.projected else '     '} "
              f"{row.peak_memory_mb:9.0f} {sum(row.iterations.values()):11d} {row.hours:8.2f}   "
              f"{row.what}; {len(row.step_seconds)} timed"
              + (f"; iterations {' + '.join(f'{k} {v}' for k, v in row.iterations.items())}"
                 if len(row.iterations) > 1 else ""), flush=True)
    print(f"steps/s from the fastest timed step (the machine may be shared); batch = measured batch, paper = "
          f"paper batch; 'proj' = steps/s at the paper batch projected from the measured samples/s; peak memory: "
          f"{rows[0].memory_kind if rows else ''}")

    per_model = {model: sum(r.hours for r in rows if r.model == model) for model in MODELS
                 if any(r.model == model for r in rows)}
    runs = {"vgg_lstm": 2, "audio_lstm": 1, "inception_lstm": 1}  # tracks a and b
    original = sum(per_model[m] * runs[m] for m in per_model)
    total = 2 * original  # refit: every model retrained on train+val
    print()
    print("projected hours of the paper's schedule on this device (one training run of each model):")
    for model, hours in per_model.items():
        print(f"  {model:15s} {hms(hours)}  x{runs[model]} run{'s (tracks a, b)' if runs[model] == 2 else ''}"
              f"  = {hms(hours * runs[model])}   {100 * hours * runs[model] / original:5.1f} % of the experiment")
    scope = "" if len(per_model) == len(MODELS) else f" (only {', '.join(per_model)})"
    print(f"  original models{scope}: {hms(original)}")
    print(f"  full experiment, original + refit (x2){scope}: {hms(total)}   (audio SVM not included)")

    if args.json:
        report = {
            "device": describe_device(device, args.precision), "steps": steps, "warmup": args.warmup,
            "min_time_s": 0.0 if args.quick else args.min_time, "audio_length": args.audio_length,
            "config": str(PAPER_CONFIG.relative_to(REPO)),
            "rows": [row.__dict__ for row in rows],
            "hours_per_model_run": per_model, "runs_per_model": {m: runs[m] for m in per_model},
            "hours_original": original, "hours_original_plus_refit": total,
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
