"""A seeded, resumable, step-based training loop shared by the deep models (paper 2.1, 2.3, 2.4).

Determinism and resume: batch `step` of stage `s` draws its clip indices, random windows and dropout
masks from generators seeded by (seed, s, step) only, and the learning rate is a pure function of
the step (step decay). A checkpoint holds the model, the optimizer state and the log; so a job killed
after step k and restarted continues exactly as an uninterrupted run would (tested on CPU).

Checkpoints go to `resume.pt` beside the final checkpoint every `checkpoint_every` steps (temporary
file + rename) and carry a fingerprint of the settings and training clips: a resume file written
under other settings is ignored, never silently continued.

Progress: every stage logs step, loss, learning rate, steps/s and ETA every
`PROGRESS_EVERY_S` seconds or `PROGRESS_EVERY_STEPS` steps, whichever comes first (and at its first
and last step), shows a tqdm bar when stderr is a terminal, and appends each step's row to
train_log.csv as it goes (flushed), so a killed job leaves its curve so far.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from ..artifacts import atomic_output

log = logging.getLogger(__name__)

LOG_COLUMNS = ("stage", "step", "lr", "loss", "accuracy")
# A progress line at least this often (seconds) and at least every this many steps (not config keys:
# changing them must not retrain, as a change of params would).
PROGRESS_EVERY_S = 30.0
PROGRESS_EVERY_STEPS = 100
# TrainSettings.precision: "auto" = bf16 autocast and channels-last on CUDA, fp32 on the CPU;
# "bf16" = bf16 autocast and channels-last on every device.
PRECISIONS: tuple[str, ...] = ("auto", "bf16")


@dataclass(frozen=True)
class TrainSettings:
    """`models.training` of config.yaml (none of these are paper values)."""

    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    num_workers: int = 0
    checkpoint_every: int = 50
    threads: int = 0  # torch CPU threads; 0 = leave torch's default
    # Not a config key: "auto" is the pipeline's numerics (`gpu_numerics`: on CUDA only); "bf16" takes
    # them on any device, so that tests and benchmarks/gpu_check.py run the CUDA path on a CPU.
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @property
    def result_settings(self) -> dict:
        """The settings that change the trained weights (schemas/config.schema.yaml: `setting: result`);
        loader workers, the resume interval and threads are run settings, so a run resumes across them.
        A forced precision is one too (a bf16 resume file must not continue an fp32 run)."""
        settings: dict = {"seed": self.seed, "device": self.device}
        if self.precision != "auto":
            settings["precision"] = self.precision
        return settings

    @classmethod
    def from_config(cls, block: dict, threads: int = 0) -> "TrainSettings":
        return cls(seed=int(block["seed"]), device=str(block["device"]), num_workers=int(block["num_workers"]),
                   checkpoint_every=int(block["checkpoint_every"]), threads=threads)


@dataclass(frozen=True)
class Solver:
    """How one stage optimises: a model block of config.yaml (`models.audio_lstm`, ...) or a solver
    block of its own (`models.inception_lstm.map_solver`). The learning rate steps down by `lr_gamma`
    every `lr_step_iterations` steps, or every `lr_step_epochs` passes over the stage's items when that
    is set (Inception-v2's schedule, paper 2.4 [24]); neither set = constant."""

    lr: float
    optimizer: str = "sgd"  # sgd | adam | rmsprop
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_step_iterations: int = 0
    lr_step_epochs: float = 0.0
    lr_gamma: float = 0.1
    rmsprop_alpha: float = 0.99  # RMSProp's decay of the squared-gradient average
    rmsprop_eps: float = 1e-8
    clip_grad_norm: float = 0.0  # 0 = no clipping

    OPTIONAL_KEYS = ("lr_step_epochs", "rmsprop_alpha", "rmsprop_eps", "clip_grad_norm")

    @classmethod
    def from_config(cls, block: Mapping[str, Any], lr_key: str = "lr") -> "Solver":
        optional = {key: block[key] for key in cls.OPTIONAL_KEYS if key in block}
        return cls(lr=float(block[lr_key]), optimizer=str(block["optimizer"]), momentum=float(block["momentum"]),
                   weight_decay=float(block["weight_decay"]), lr_step_iterations=int(block["lr_step_iterations"]),
                   lr_gamma=float(block["lr_gamma"]), **optional)

    def step_iterations(self, n_items: int, batch_size: int) -> int:
        """Steps between two learning-rate drops (0 = constant)."""
        if self.lr_step_epochs > 0:
            return max(1, math.ceil(self.lr_step_epochs * n_items / batch_size))
        return self.lr_step_iterations


@dataclass
class Stage:
    """One training stage: a model built from the previous stage's model, trained on a dataset."""

    name: str
    build: Callable[[nn.Module | None], nn.Module]
    dataset: Dataset
    iterations: int
    batch_size: int
    solver: Solver
    param_groups: Callable[[nn.Module, float], list[dict]] | None = None
    collate_fn: Callable | None = None

    @property
    def lr(self) -> float:
        return self.solver.lr

    def lr_at(self, step: int) -> float:
        solver = self.solver
        return learning_rate(solver.lr, step, solver.step_iterations(len(self.dataset), self.batch_size),
                             solver.lr_gamma)


class NoCudaDevice(RuntimeError):
    """CUDA was asked for on a machine without a CUDA device."""


# pragma: no mutate start (mutation testing: the device choice)
def select_device(preference: str, setting: str = "models.training.device") -> torch.device:
    """The torch device for ``preference`` (auto | cpu | cuda, the value of ``setting``); auto takes
    CUDA where present. Raises NoCudaDevice, naming the setting, for cuda without a CUDA device."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise NoCudaDevice(f"{setting} is 'cuda' but no CUDA device is available")
        return torch.device("cuda")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = False
# pragma: no mutate end


def step_seed(seed: int, stage_index: int, step: int) -> int:
    return int(np.random.default_rng([seed, stage_index, step + 1, 1]).integers(0, 2**62))


def learning_rate(base_lr: float, step: int, step_iterations: int, gamma: float) -> float:
    """Step decay: paper 2.4's lr divided by 10 every 3000 iterations, [24]'s x0.94 every two epochs
    (constant if step_iterations=0)."""
    return base_lr * (gamma ** (step // step_iterations) if step_iterations > 0 else 1.0)


class StepBatches(Sampler):
    """Yields, for steps [first, last), the batch of (step, index) pairs drawn from (seed, stage, step).

    Passing the step with each index lets datasets with random windows (`StepSeeded`) draw them
    from the step too, also inside loader worker processes."""

    def __init__(self, n_items: int, batch_size: int, seed: int, stage_index: int, first: int, last: int) -> None:
        self.n_items, self.batch_size, self.seed, self.stage_index = n_items, batch_size, seed, stage_index
        self.first, self.last = first, last

    def __len__(self) -> int:
        return self.last - self.first

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.first, self.last):
            rng = np.random.default_rng([self.seed, self.stage_index, step])
            indices = rng.choice(self.n_items, size=self.batch_size, replace=self.n_items < self.batch_size)
            yield [(step, int(i)) for i in indices]


class StepIndexed(Dataset):
    """Routes (step, index) keys to a dataset, telling step-seeded datasets the step first."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        step, index = key
        if hasattr(self.dataset, "step"):
            self.dataset.step = step
        return self.dataset[index]


def make_loader(stage: Stage, settings: TrainSettings, stage_index: int, first: int, device: torch.device) -> DataLoader:
    sampler = StepBatches(len(stage.dataset), stage.batch_size, settings.seed, stage_index, first, stage.iterations)
    workers = settings.num_workers
    return DataLoader(
        StepIndexed(stage.dataset), batch_sampler=sampler, num_workers=workers,
        collate_fn=stage.collate_fn, pin_memory=device.type == "cuda",
        persistent_workers=False, prefetch_factor=4 if workers > 0 else None,
    )


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    return batch


def forward(model: nn.Module, inputs: Any) -> torch.Tensor:
    return model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)


# pragma: no mutate start (mutation testing: the CUDA numerics)
def gpu_numerics(device: torch.device, precision: str = "auto") -> bool:
    """Whether training on `device` runs bf16 autocast with channels-last conv weights: on CUDA (for
    speed) or where `precision` is "bf16"; by default the CPU keeps full fp32 for exact reproducibility."""
    return device.type == "cuda" or precision == "bf16"


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast where `gpu_numerics`, else no autocast (fp32). On the CPU the forward runs on
    torch's own kernels: oneDNN's LSTM cannot take an fp32 input under CPU autocast ("could not create
    a primitive descriptor", torch 2.13), which the audio LSTM's unpacked prediction windows are."""
    if not gpu_numerics(device, precision):
        return contextlib.nullcontext()
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return cpu_autocast()


@contextlib.contextmanager
def cpu_autocast() -> Iterator[None]:
    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    finally:
        torch.backends.mkldnn.enabled = enabled


def to_memory_format(model: nn.Module, device: torch.device, precision: str = "auto") -> nn.Module:
    """Conv weights channels-last where `gpu_numerics` (so every conv runs NHWC, also the single-face
    stage, whose inputs arrive NCHW); the model unchanged otherwise."""
    if gpu_numerics(device, precision):
        return model.to(memory_format=torch.channels_last)
    return model
# pragma: no mutate end


def make_optimizer(stage: Stage, model: nn.Module) -> torch.optim.Optimizer:
    groups = stage.param_groups(model, stage.lr) if stage.param_groups else [
        {"params": list(model.parameters()), "lr": stage.lr, "lr_multiplier": 1.0, "name": "all"}]
    solver = stage.solver
    if solver.optimizer == "adam":
        return torch.optim.Adam(groups, lr=solver.lr, weight_decay=solver.weight_decay)
    if solver.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=solver.lr, alpha=solver.rmsprop_alpha, eps=solver.rmsprop_eps,
                                   momentum=solver.momentum, weight_decay=solver.weight_decay)
    if solver.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=solver.lr, momentum=solver.momentum, weight_decay=solver.weight_decay)
    raise ValueError(f"stage {stage.name}: unknown optimizer {solver.optimizer!r} (sgd, adam or rmsprop)")


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_output(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def load_resume(path: Path, expected_fingerprint: str) -> dict | None:
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != expected_fingerprint:
        log.warning("ignoring %s: written under other settings or data", path)
        return None
    return state


def train_step(stage: Stage, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module, inputs: Any,
               targets: torch.Tensor, lr: float, device: torch.device, precision: str = "auto") -> tuple[float, float]:
    """One optimisation step at base rate `lr` (each group keeps its multiplier), with the stage's
    gradient clipping; returns (loss, batch accuracy)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_multiplier"]
    with autocast(device, precision):
        logits = forward(model, inputs)
        loss = loss_fn(logits.float(), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if stage.solver.clip_grad_norm > 0:
        nn.utils.clip_grad_norm_(model.parameters(), stage.solver.clip_grad_norm)
    optimizer.step()
    return float(loss.item()), (logits.argmax(1) == targets).float().mean().item()


class LiveTrainLog:
    """train_log.csv written as training goes: the header and the rows a resumed run starts from,
    then one row per step, each appended and closed at once (so it is on disk whatever happens to
    the job next). The finished model rewrites it whole (`outputs.write_train_log`, atomically)."""

    def __init__(self, path: str | os.PathLike, rows: Sequence[Mapping]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write("w", rows, header=True)

    def append(self, row: Mapping) -> None:
        self._write("a", [row])

    def _write(self, mode: str, rows: Sequence[Mapping], header: bool = False) -> None:
        with open(self.path, mode, newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(LOG_COLUMNS), lineterminator="\n")
            if header:
                writer.writeheader()
            writer.writerows(rows)


# pragma: no mutate start (mutation testing: the progress display)
def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def terminal_stderr():
    """The terminal behind stderr, or None: also when `avemotion.logs` routes fd 2 through its
    noise filter (workflow scripts), the bar goes to the terminal the job was started from."""
    from ..logs import real_stderr_fd

    fd = real_stderr_fd()
    if not os.isatty(fd):
        return None
    return os.fdopen(os.dup(fd), "w", buffering=1)


class StageProgress:
    """Progress of one stage from step `first` to `total`: log lines (step, mean loss since the last
    line, learning rate, steps/s over this run of the stage, ETA) every `every_s` seconds or
    `every_steps` steps, whichever comes first, and a tqdm bar on a terminal."""

    def __init__(self, name: str, first: int, total: int, every_s: float | None = None,
                 every_steps: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.first, self.total, self.clock = name, first, total, clock
        self.every_s = PROGRESS_EVERY_S if every_s is None else every_s
        self.every_steps = PROGRESS_EVERY_STEPS if every_steps is None else every_steps
        self.start = self.last_time = clock()
        self.last_step = first
        self.losses: list[float] = []
        self.bar = None
        stream = terminal_stderr()
        if stream is not None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=first, desc=f"stage {name}", unit="step", file=stream,
                            dynamic_ncols=True, leave=True)

    def update(self, step: int, loss: float, lr: float) -> None:
        """After optimisation step `step` (0-based) has run."""
        self.losses.append(loss)
        done = step + 1
        now = self.clock()
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.3g}", refresh=False)
        if (done == self.first + 1 or done == self.total or now - self.last_time >= self.every_s
                or done - self.last_step >= self.every_steps):
            elapsed = now - self.start
            rate = (done - self.first) / elapsed if elapsed > 0 else float("inf")
            eta = (self.total - done) / rate if rate > 0 else float("inf")
            log.info("stage %s: step %d/%d, loss %.4f, lr %.3g, %.2f steps/s, ETA %s", self.name, done, self.total,
                     sum(self.losses) / len(self.losses), lr, rate, format_duration(eta))
            self.losses, self.last_time, self.last_step = [], now, done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar.fp.close()
            self.bar = None
# pragma: no mutate end


@dataclass
class TrainResult:
    model: nn.Module
    log_rows: list[dict] = field(default_factory=list)
    device: torch.device = torch.device("cpu")


def run_stages(stages: Sequence[Stage], settings: TrainSettings, resume_path: Path, run_fingerprint: str,
               stop_after_steps: int | None = None, train_log: str | os.PathLike | None = None) -> TrainResult:
    """Train the stages in order, resuming from `resume_path` when it matches `run_fingerprint`.

    `train_log`: train_log.csv, appended step by step (it starts with the rows of the checkpoint a
    resumed run continues from). `stop_after_steps` (tests only) stops the whole run after that many
    optimisation steps in this call, after writing a checkpoint, as a killed job would leave it.
    """
    if settings.threads:
        torch.set_num_threads(settings.threads)
    seed_everything(settings.seed)
    device = select_device(settings.device)
    state = load_resume(resume_path, run_fingerprint)
    start_stage, start_step = (state["stage_index"], state["step"]) if state else (0, 0)
    log_rows: list[dict] = list(state["log"]) if state else []
    live_log = LiveTrainLog(train_log, log_rows) if train_log is not None else None
    steps_done = 0
    model: nn.Module | None = None
    for stage_index, stage in enumerate(stages):
        torch.manual_seed(step_seed(settings.seed, stage_index, -1))
        model = to_memory_format(stage.build(model).to(device), device, settings.precision)
        if state and stage_index == state["model_stage"]:
            model.load_state_dict(state["model"])
        if stage_index < start_stage:
            continue
        optimizer = make_optimizer(stage, model)
        first = 0
        if state and stage_index == start_stage and state["optimizer"]:
            optimizer.load_state_dict(state["optimizer"])
            first = start_step
        if stage.iterations == 0 or len(stage.dataset) == 0:
            log.info("stage %s: nothing to train (iterations=%d, items=%d)", stage.name, stage.iterations,
                     len(stage.dataset))
            continue
        log.info("stage %s: steps %d..%d, %d items, device %s%s", stage.name, first, stage.iterations,
                 len(stage.dataset), device,
                 " (bf16 autocast, channels-last)" if gpu_numerics(device, settings.precision) else "")
        model.train()
        loss_fn = nn.CrossEntropyLoss()
        progress = StageProgress(stage.name, first, stage.iterations)
        step = first
        for batch in make_loader(stage, settings, stage_index, first, device):
            inputs, targets = to_device(batch[0], device), to_device(batch[1], device)
            lr = stage.lr_at(step)
            torch.manual_seed(step_seed(settings.seed, stage_index, step))
            loss, accuracy = train_step(stage, model, optimizer, loss_fn, inputs, targets, lr, device,
                                        settings.precision)
            row = {"stage": stage.name, "step": step, "lr": lr, "loss": loss, "accuracy": accuracy}
            log_rows.append(row)
            if live_log is not None:
                live_log.append(row)
            progress.update(step, loss, lr)
            step += 1
            steps_done += 1
            finished_stage = step == stage.iterations
            interrupted = stop_after_steps is not None and steps_done >= stop_after_steps
            if step % settings.checkpoint_every == 0 or interrupted or finished_stage:
                next_stage, next_step = (stage_index + 1, 0) if finished_stage else (stage_index, step)
                save_checkpoint(resume_path, {
                    "fingerprint": run_fingerprint, "stage_index": next_stage, "step": next_step,
                    "model_stage": stage_index, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict() if not finished_stage else {},
                    "log": log_rows,
                })
            if interrupted:
                progress.close()
                raise TrainingInterrupted(step)
        progress.close()
    model.eval()
    return TrainResult(model=model, log_rows=log_rows, device=device)


class TrainingInterrupted(RuntimeError):
    """Raised by `run_stages(stop_after_steps=...)`: the run stopped as a killed job would."""
