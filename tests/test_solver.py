"""The training stages' solvers: the Inception single-map stage trains with its own
solver block (Inception-v2's ImageNet settings [24] in the paper config: RMSProp, lr x0.94 every two
epochs, gradient clipping), the Inception-LSTM and every other stage with their model block's; the
VGG-LSTM's new head learns at `sequence_head_lr_multiplier`, fc8 at the paper's 10x."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn
from torch.utils.data import TensorDataset

from avemotion.config import load_config
import synthetic_corpus as synthetic
from avemotion.models.pipelines import train_inception_lstm, train_vgg_lstm
from avemotion.models.training import Solver, Stage, TrainSettings, make_optimizer, run_stages
from conftest import model_outputs

REPO = Path(__file__).resolve().parents[1]


def test_paper_map_solver_is_inception_v2_on_imagenet():
    block = load_config(REPO / "configs" / "paper.yaml")["models"]["inception_lstm"]
    maps, sequences = Solver.from_config(block["map_solver"]), Solver.from_config(block)
    assert (maps.optimizer, maps.lr, maps.lr_gamma, maps.lr_step_epochs) == ("rmsprop", 0.045, 0.94, 2.0)
    assert (maps.rmsprop_alpha, maps.rmsprop_eps, maps.clip_grad_norm) == (0.9, 1.0, 2.0)
    assert (sequences.optimizer, sequences.lr, sequences.lr_step_iterations, sequences.lr_gamma,
            sequences.weight_decay) == ("sgd", 0.001, 3000, 0.1, 0.002)
    assert sequences.clip_grad_norm == 0 and sequences.lr_step_epochs == 0


def test_lr_steps_every_two_epochs_of_the_stages_items():
    solver = Solver(lr=0.045, lr_step_epochs=2.0, lr_gamma=0.94)
    stage = Stage("maps", lambda _: nn.Linear(2, 7), TensorDataset(torch.zeros(100, 2)), 1000, 32, solver)
    # two epochs of 100 items at batch 32 = ceil(200 / 32) = 7 steps
    assert [round(stage.lr_at(step), 6) for step in (0, 6, 7, 13, 14)] == [0.045, 0.045, 0.0423, 0.0423, 0.039762]
    fixed = Stage("seq", lambda _: nn.Linear(2, 7), TensorDataset(torch.zeros(100, 2)), 1000, 16,
                  Solver(lr=0.001, lr_step_iterations=3000))
    assert (fixed.lr_at(2999), fixed.lr_at(3000)) == (0.001, pytest.approx(0.0001))


def test_rmsprop_takes_the_solvers_decay_and_epsilon():
    solver = Solver(lr=0.045, optimizer="rmsprop", rmsprop_alpha=0.9, rmsprop_eps=1.0, momentum=0.9,
                    weight_decay=4e-5)
    optimizer = make_optimizer(Stage("maps", lambda _: None, [], 1, 1, solver), nn.Linear(2, 7))
    assert isinstance(optimizer, torch.optim.RMSprop)
    group = optimizer.param_groups[0]
    assert (group["alpha"], group["eps"], group["momentum"], group["weight_decay"]) == (0.9, 1.0, 0.9, 4e-5)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer(Stage("maps", lambda _: None, [], 1, 1, Solver(lr=1.0, optimizer="lbfgs")), nn.Linear(2, 7))


def one_step_update(clip: float) -> torch.Tensor:
    """The parameter change of one plain-SGD step (lr 1) on a loss with a huge gradient."""
    inputs, targets = torch.full((4, 2), 1000.0), torch.zeros(4, dtype=torch.long)
    model = nn.Linear(2, 7)
    before = torch.cat([p.detach().clone().flatten() for p in model.parameters()])
    stage = Stage("s", lambda _: model, TensorDataset(inputs, targets), 1, 4,
                  Solver(lr=1.0, momentum=0.0, clip_grad_norm=clip))
    run_stages([stage], TrainSettings(checkpoint_every=10), Path("/nonexistent/resume.pt"), "x")
    return torch.cat([p.detach().flatten() for p in model.parameters()]) - before


def test_gradient_clipping_bounds_the_step(monkeypatch):
    monkeypatch.setattr("avemotion.models.training.save_checkpoint", lambda *args: None)
    clipped, free = one_step_update(2.0), one_step_update(0.0)
    # lr 1: the step is the clipped gradient; 1e-4 for float32 rounding and clip_grad_norm_'s 1e-6 in its divisor
    assert clipped.norm() <= 2.0 + 1e-4 < free.norm()


def read_lr(path: Path) -> dict[str, list[float]]:
    by_stage: dict[str, list[float]] = {}
    with open(path) as handle:
        for row in csv.DictReader(handle):
            by_stage.setdefault(row["stage"], []).append(float(row["lr"]))
    return by_stage


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> synthetic.SyntheticCorpus:
    return synthetic.write_corpus(tmp_path_factory.mktemp("corpus"), per_class={"train": 2, "val": 1, "test": 1},
                                  face_size=32, n_timeline=100)


def test_inception_map_stage_trains_with_its_own_solver(corpus, tmp_path):
    models = yaml.safe_load((REPO / "config.yaml").read_text())["models"]
    block = dict(models["inception_lstm"], width_multiplier=0.0625, map_iterations=4, sequence_iterations=3,
                 batch_size=4, sequence_batch_size=2, lr=0.001, lr_step_iterations=2,
                 map_solver={"optimizer": "rmsprop", "lr": 0.045, "momentum": 0.9, "weight_decay": 0.0,
                             "lr_step_iterations": 0, "lr_step_epochs": 0.001, "lr_gamma": 0.94,
                             "rmsprop_alpha": 0.9, "rmsprop_eps": 1.0, "clip_grad_norm": 2.0})
    outputs = model_outputs(tmp_path, "inception_lstm")
    train_inception_lstm(corpus.manifest, corpus.maps, outputs, block, models["training"])
    lrs = read_lr(outputs.train_log)
    # a thousandth of an epoch rounds up to one step between drops; the LSTM stage: 0.001 /10 after 2
    assert lrs["maps"] == pytest.approx([0.045 * 0.94 ** step for step in range(4)])
    assert lrs["sequences"] == pytest.approx([0.001, 0.001, 0.0001])


def test_vgg_lstm_head_multiplier_is_the_configs(corpus, tmp_path, monkeypatch):
    seen: list[list[tuple[str, float]]] = []
    original = make_optimizer

    def recording(stage, model):
        optimizer = original(stage, model)
        seen.append([(group["name"], group["lr_multiplier"]) for group in optimizer.param_groups])
        return optimizer

    monkeypatch.setattr("avemotion.models.training.make_optimizer", recording)
    models = yaml.safe_load((REPO / "config.yaml").read_text())["models"]
    block = dict(models["vgg_lstm"], width_multiplier=0.125, input_size=32, frame_iterations=1,
                 sequence_iterations=1, frame_batch_size=4, sequence_batch_size=2, sequence_head_lr_multiplier=1.0)
    train_vgg_lstm(corpus.manifest, corpus.faces, model_outputs(tmp_path, "vgg_lstm_a"), block,
                   models["training"])
    # (a) FER-2013 and (b) frames: fc8 at the paper's 10x; (c) sequences: the LSTM head at the configured 1x
    assert seen == [[("base", 1.0), ("last_layer", 10.0)]] * 2 + [[("base", 1.0), ("last_layer", 1.0)]]
