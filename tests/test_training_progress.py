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
