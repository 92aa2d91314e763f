"""Training progress: each stage logs step, loss, learning rate, steps/s and ETA at a
regular interval, shows a tqdm bar on a terminal, and appends train_log.csv as it goes, so a killed
job leaves its curve so far."""
from __future__ import annotations

import csv
import fcntl
import logging
import os
import pty
import re
import select
import struct
import termios
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from avemotion.models import training
from avemotion.models.training import (LOG_COLUMNS, Solver, Stage, StageProgress, TrainingInterrupted, TrainSettings,
                                       run_stages)

PROGRESS_LINE = re.compile(r"stage (\w+): step (\d+)/(\d+), loss (\d+\.\d+), lr (\S+), (\d+\.\d+) steps/s, ETA (\S+)")


def tiny_stage(name: str, iterations: int, lr: float = 0.1) -> Stage:
    generator = torch.Generator().manual_seed(0)
    inputs, targets = torch.randn(32, 4, generator=generator), torch.randint(0, 7, (32,), generator=generator)
    return Stage(name, lambda model: model or nn.Linear(4, 7), TensorDataset(inputs, targets), iterations, 8,
                 Solver(lr=lr, momentum=0.0, lr_step_iterations=10, lr_gamma=0.5))


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_progress_lines_and_live_train_log(tmp_path, caplog, monkeypatch):
    train_log = tmp_path / "model" / "train_log.csv"
    seen_during_training: list[int] = []
    real_update = StageProgress.update

    def update(self, step, loss, lr):  # a hook inside the loop: what is on disk while the stage runs
        seen_during_training.append(len(read_rows(train_log)))
        real_update(self, step, loss, lr)

    monkeypatch.setattr(StageProgress, "update", update)
    monkeypatch.setattr(training, "PROGRESS_EVERY_STEPS", 10)
    caplog.set_level(logging.INFO, logger="avemotion.models.training")
    result = run_stages([tiny_stage("frames", 25), tiny_stage("sequences", 12)], TrainSettings(checkpoint_every=100),
                        tmp_path / "resume.pt", "run", train_log=train_log)

    # train_log.csv grew row by row while the stages ran (each step's row is on disk before the next)
    assert seen_during_training == list(range(1, 38))
    rows = read_rows(train_log)
    assert list(rows[0]) == list(LOG_COLUMNS) and len(rows) == 37 == len(result.log_rows)
    assert [(r["stage"], int(r["step"])) for r in rows] == [("frames", s) for s in range(25)] + \
        [("sequences", s) for s in range(12)]
    assert train_log.read_bytes().count(b"\r") == 0

    lines = [PROGRESS_LINE.search(m).groups() for m in caplog.messages if PROGRESS_LINE.search(m)]
    # the first step, every 10 steps, the last step of each stage
    assert [(stage, int(step), int(total)) for stage, step, total, *_ in lines] == [
        ("frames", 1, 25), ("frames", 11, 25), ("frames", 21, 25), ("frames", 25, 25),
        ("sequences", 1, 12), ("sequences", 11, 12), ("sequences", 12, 12)]
    for stage, step, total, loss, lr, rate, eta in lines:
        assert float(loss) > 0 and float(rate) > 0 and re.fullmatch(r"\d+:\d\d(:\d\d)?", eta)
    assert float(lines[2][4]) == pytest.approx(0.1 * 0.5 ** 2)  # lr at step 21 of "frames" (steps 20-24)
    assert lines[3][6] == "0:00"  # nothing left at the last step


def test_progress_logs_by_time_when_steps_are_slow(caplog):
    now = [0.0]
    caplog.set_level(logging.INFO, logger="avemotion.models.training")
    progress = StageProgress("frames", 100, 10_000, every_s=30.0, every_steps=100, clock=lambda: now[0])
    for step in range(100, 110):  # 12.5 s a step: a line at the first step, then every 30 s
        now[0] += 12.5
        progress.update(step, 1.0, 0.001)
    lines = [PROGRESS_LINE.search(m).groups() for m in caplog.messages]
    assert [int(line[1]) for line in lines] == [101, 104, 107, 110]
    assert lines[-1][5] == "0.08" and lines[-1][6] == "34:20:25"  # 9890 steps at 0.08 steps/s


def test_a_killed_run_leaves_its_curve_and_a_resumed_run_continues_it(tmp_path):
    train_log, resume = tmp_path / "train_log.csv", tmp_path / "resume.pt"
    settings = TrainSettings(checkpoint_every=5)
    with pytest.raises(TrainingInterrupted):
        run_stages([tiny_stage("frames", 20)], settings, resume, "run", stop_after_steps=7, train_log=train_log)
    assert [int(r["step"]) for r in read_rows(train_log)] == list(range(7))  # the curve so far
    # the resume checkpoint holds steps 0-6 (written at the interruption); the rerun starts there
    result = run_stages([tiny_stage("frames", 20)], settings, resume, "run", train_log=train_log)
    assert [int(r["step"]) for r in read_rows(train_log)] == list(range(20)) == [r["step"] for r in result.log_rows]


def test_a_bar_on_a_terminal_and_none_elsewhere(monkeypatch, caplog):
    master, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
    try:
        monkeypatch.setattr("avemotion.logs.real_stderr_fd", lambda: follower)
        progress = StageProgress("frames", 0, 5)
        for step in range(5):
            progress.update(step, 0.5, 0.01)
        progress.close()
        shown = b""
        while select.select([master], [], [], 0.5)[0]:
            shown += os.read(master, 65536)
        shown = shown.decode(errors="replace")
    finally:
        os.close(master)
        os.close(follower)
    assert "stage frames" in shown and "5/5" in shown and "loss=0.5000" in shown
    read_end, write_end = os.pipe()
    try:
        monkeypatch.setattr("avemotion.logs.real_stderr_fd", lambda: write_end)
        assert StageProgress("frames", 0, 5).bar is None
    finally:
        os.close(read_end)
        os.close(write_end)


def two_stages(frames: int = 12, sequences: int = 7) -> list[Stage]:
    return [tiny_stage("frames", frames), tiny_stage("sequences", sequences, lr=0.05)]


def weights_of(result) -> list[torch.Tensor]:
    return [p.detach().clone() for p in result.model.parameters()]


@pytest.mark.parametrize("stop", [3, 4, 11, 12, 13, 18])
def test_a_resumed_run_ends_as_an_uninterrupted_one(tmp_path, stop):
    """Killed after any step (mid-interval, on a checkpoint step, at and after a stage's end) and
    rerun: the same weights and the same log as a run never stopped (module docstring)."""
    settings = TrainSettings(checkpoint_every=4)
    whole = run_stages(two_stages(), settings, tmp_path / "whole.pt", "run")
    with pytest.raises(TrainingInterrupted):
        run_stages(two_stages(), settings, tmp_path / "resume.pt", "run", stop_after_steps=stop)
    resumed = run_stages(two_stages(), settings, tmp_path / "resume.pt", "run")
    assert all(torch.equal(a, b) for a, b in zip(weights_of(resumed), weights_of(whole)))
    assert resumed.log_rows == whole.log_rows and len(whole.log_rows) == 19


def test_a_checkpoint_holds_where_to_go_on(tmp_path):
    settings = TrainSettings(checkpoint_every=5)
    with pytest.raises(TrainingInterrupted, match="7"):
        run_stages(two_stages(), settings, tmp_path / "resume.pt", "run", stop_after_steps=7)
    state = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert (state["fingerprint"], state["stage_index"], state["step"], state["model_stage"]) == ("run", 0, 7, 0)
    assert state["optimizer"] and len(state["log"]) == 7
    with pytest.raises(TrainingInterrupted):  # on to the end of the first stage (12 steps)
        run_stages(two_stages(), settings, tmp_path / "resume.pt", "run", stop_after_steps=5)
    state = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert (state["stage_index"], state["step"], state["model_stage"], state["optimizer"]) == (1, 0, 0, {})
    assert len(state["log"]) == 12


def test_a_resume_file_of_other_settings_is_ignored(tmp_path):
    settings = TrainSettings(checkpoint_every=4)
    with pytest.raises(TrainingInterrupted):
        run_stages(two_stages(), settings, tmp_path / "resume.pt", "other settings", stop_after_steps=6)
    fresh = run_stages(two_stages(), settings, tmp_path / "resume.pt", "run")
    whole = run_stages(two_stages(), settings, tmp_path / "whole.pt", "run")
    assert [r["step"] for r in fresh.log_rows] == list(range(12)) + list(range(7))
    assert all(torch.equal(a, b) for a, b in zip(weights_of(fresh), weights_of(whole)))
    assert training.load_resume(tmp_path / "missing.pt", "run") is None
    assert training.load_resume(tmp_path / "resume.pt", "else") is None
    assert training.load_resume(tmp_path / "resume.pt", "run")["stage_index"] == 2  # both stages done


def test_a_stage_with_nothing_to_train_passes_its_model_on(tmp_path):
    built = []

    def build(model):
        built.append(model)
        return model or nn.Linear(4, 7)

    empty = Stage("empty", build, TensorDataset(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)), 5, 8,
                  Solver(lr=0.1))
    idle = Stage("idle", build, tiny_stage("x", 0).dataset, 0, 8, Solver(lr=0.1))
    result = run_stages([tiny_stage("frames", 3), empty, idle], TrainSettings(), tmp_path / "r.pt", "run")
    assert built[0] is built[1] is result.model and len(result.log_rows) == 3
    assert not result.model.training  # returned in eval mode


def test_the_learning_rate_steps_down_with_the_step():
    stage = Stage("s", lambda _: None, TensorDataset(torch.zeros(100, 2)), 1000, 10,
                  Solver(lr=0.1, lr_step_iterations=30, lr_gamma=0.5))
    assert [stage.lr_at(step) for step in (0, 29, 30, 59, 60, 95)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])
    by_epochs = Solver(lr=0.1, lr_step_iterations=30, lr_step_epochs=2.0)  # epochs win over iterations
    assert by_epochs.step_iterations(n_items=100, batch_size=10) == 20  # two passes over 100 items, 10 a step
    assert by_epochs.step_iterations(n_items=101, batch_size=10) == 21  # a started step counts
    assert Solver(lr=0.1, lr_step_epochs=0.01).step_iterations(n_items=10, batch_size=10) == 1  # at least one
    assert Solver(lr=0.1, lr_step_iterations=30).step_iterations(n_items=100, batch_size=10) == 30
    assert Solver(lr=0.1).step_iterations(n_items=100, batch_size=10) == 0  # constant


def test_solver_and_settings_from_config_blocks():
    block = {"lr": 0.01, "optimizer": "adam", "momentum": 0.8, "weight_decay": 0.001, "lr_step_iterations": 7,
             "lr_gamma": 0.3, "clip_grad_norm": 5.0, "map_lr": 0.2}
    assert Solver.from_config(block) == Solver(lr=0.01, optimizer="adam", momentum=0.8, weight_decay=0.001,
                                               lr_step_iterations=7, lr_gamma=0.3, clip_grad_norm=5.0)
    assert Solver.from_config(block, lr_key="map_lr").lr == 0.2
    settings = TrainSettings.from_config({"seed": "3", "device": "cpu", "num_workers": "2", "checkpoint_every": "9"},
                                         threads=4)
    assert settings == TrainSettings(seed=3, device="cpu", num_workers=2, checkpoint_every=9, threads=4)
    assert settings.result_settings == {"seed": 3, "device": "cpu"}  # workers, interval, threads: run settings
    assert TrainSettings(precision="bf16").result_settings == {"seed": 0, "device": "auto", "precision": "bf16"}
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainSettings(precision="fp16")


def test_a_steps_batch_depends_on_seed_stage_and_step_only():
    batches = list(training.StepBatches(20, 4, seed=1, stage_index=0, first=0, last=6))
    assert len(training.StepBatches(20, 4, 1, 0, 2, 6)) == 4
    assert list(training.StepBatches(20, 4, 1, 0, 2, 6)) == batches[2:]  # a resumed run draws the same batches
    assert [[step for step, _ in batch] for batch in batches] == [[s] * 4 for s in range(6)]
    assert all(len({i for _, i in batch}) == 4 for batch in batches)  # without replacement
    assert list(training.StepBatches(20, 4, 1, 1, 0, 6)) != batches and list(training.StepBatches(20, 4, 2, 0, 0, 6)) != batches
    small = list(training.StepBatches(3, 8, 1, 0, 0, 2))  # fewer items than a batch: drawn with replacement
    assert all(len(batch) == 8 and {i for _, i in batch} <= {0, 1, 2} for batch in small)
    assert training.step_seed(1, 0, 5) == training.step_seed(1, 0, 5) != training.step_seed(1, 0, 6)
    assert training.step_seed(1, 0, 5) != training.step_seed(1, 1, 5) != training.step_seed(2, 1, 5)


def test_a_step_seeded_dataset_learns_the_step_before_each_item():
    class Seeded(torch.utils.data.Dataset):
        step = None

        def __len__(self):
            return 5

        def __getitem__(self, index):
            return self.step, index

    indexed = training.StepIndexed(Seeded())
    assert len(indexed) == 5 and indexed[(7, 3)] == (7, 3) and indexed.dataset.step == 7
    plain = training.StepIndexed(TensorDataset(torch.arange(5)))
    assert plain[(7, 3)][0].item() == 3


def test_optimizers_and_their_groups():
    model = nn.Linear(2, 7)
    stage = Stage("s", lambda _: None, [], 1, 1, Solver(lr=0.1, momentum=0.7, weight_decay=0.01))
    sgd = training.make_optimizer(stage, model)
    assert isinstance(sgd, torch.optim.SGD)
    [group] = sgd.param_groups
    assert (group["lr"], group["momentum"], group["weight_decay"], group["lr_multiplier"]) == (0.1, 0.7, 0.01, 1.0)
    adam = training.make_optimizer(Stage("s", lambda _: None, [], 1, 1, Solver(lr=0.2, optimizer="adam",
                                                                              weight_decay=0.03)), model)
    assert isinstance(adam, torch.optim.Adam)
    assert (adam.param_groups[0]["lr"], adam.param_groups[0]["weight_decay"]) == (0.2, 0.03)
    groups = Stage("s", lambda _: None, [], 1, 1, Solver(lr=0.1), param_groups=lambda m, lr: [
        {"params": [m.weight], "lr": lr, "lr_multiplier": 1.0}, {"params": [m.bias], "lr": 10 * lr, "lr_multiplier": 10.0}])
    optimizer = training.make_optimizer(groups, model)
    inputs, targets = torch.randn(4, 2, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        logits = model(inputs)  # before the step: what the loss and the accuracy are of
    expected_loss = nn.functional.cross_entropy(logits, targets).item()
    expected_accuracy = (logits.argmax(1) == targets).float().mean().item()
    loss, accuracy = training.train_step(groups, model, optimizer, nn.CrossEntropyLoss(), inputs, targets, 0.05,
                                         torch.device("cpu"))
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.05, 0.5])  # each group keeps its multiplier
    assert (loss, accuracy) == (pytest.approx(expected_loss), expected_accuracy)


def test_fingerprints_and_batches_on_the_device():
    assert training.fingerprint({"a": 1, "b": [2, 3]}) == training.fingerprint({"b": [2, 3], "a": 1})
    assert training.fingerprint({"a": 1}) != training.fingerprint({"a": 2})
    assert re.fullmatch(r"[0-9a-f]{16}", training.fingerprint({"path": Path("x")}))
    batch = (torch.zeros(2), [torch.ones(1), "label"])
    moved = training.to_device(batch, torch.device("cpu"))
    assert type(moved) is tuple and type(moved[1]) is list and moved[1][1] == "label"
    assert torch.equal(moved[0], batch[0])
    model = nn.Bilinear(2, 2, 3)
    assert training.forward(model, (torch.ones(1, 2), torch.ones(1, 2))).shape == (1, 3)
    assert training.forward(nn.Linear(2, 3), torch.ones(1, 2)).shape == (1, 3)


def test_the_live_train_log_makes_its_folders(tmp_path):
    train_log = tmp_path / "models" / "frames" / "train_log.csv"  # two folders that do not exist yet
    run_stages([tiny_stage("frames", 2)], TrainSettings(), tmp_path / "resume.pt", "run", train_log=train_log)
    assert [int(r["step"]) for r in read_rows(train_log)] == [0, 1]
