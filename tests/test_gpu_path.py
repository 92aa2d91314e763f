"""The CUDA training path's settings, run on the CPU: every deep model trains a few steps under bf16
autocast with channels-last conv weights, loader workers and the real collate functions, and a
resumed run equals an uninterrupted one (`TrainSettings(precision="bf16")` forces on the CPU what
CUDA does by default). Also: benchmarks/gpu_check.py stops at once without CUDA."""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pytest
import torch
import yaml
from torch import nn

import synthetic_corpus as synthetic
from avemotion.artifacts import STATUS_OK, write_predictions
from avemotion.models import pipelines, training
from avemotion.models.clips import Clip, load_clips, training_clips
from avemotion.models.trained import TrainedModel, predict_clip_probabilities
from avemotion.models.training import TrainingInterrupted, TrainResult, TrainSettings, fingerprint, run_stages

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
torch.set_num_threads(1)

# The smallest nets and step counts that still run every stage of each model (the FER-2013 step too).
FAST = {
    "vgg_lstm": {"width_multiplier": 0.125, "input_size": 32, "fer_iterations": 2, "frame_iterations": 3,
                 "sequence_iterations": 3, "frame_batch_size": 4, "sequence_batch_size": 2},
    "audio_lstm": {"iterations": 4, "hidden": 16, "batch_size": 4},
    "inception_lstm": {"width_multiplier": 0.0625, "map_iterations": 3, "sequence_iterations": 3, "batch_size": 4,
                       "sequence_batch_size": 2, "lr_step_iterations": 2},
}
STEPS = {"vgg_lstm": 8, "audio_lstm": 4, "inception_lstm": 6}
# Paper 3.2's smallest conclusion: the two VGG-LSTMs together (51.02 %) beat the better one alone
# (49.61 %) on AFEW val. A clip whose class bf16 changes moves an accuracy by at most one clip, so bf16
# may change the class of fewer than 1.41 % of clips, or it alone could make or undo that gap.
MIN_AGREEMENT = 1 - (0.5102 - 0.4961)


@dataclass(frozen=True)
class Model:
    """A deep model as the pipeline trains it: its recipe and the artifact kind it reads."""

    recipe: Callable
    artifacts: str  # SyntheticCorpus attribute
    modality: str


MODELS = {
    "vgg_lstm": Model(pipelines.vgg_lstm_recipe, "faces", "faces"),
    "audio_lstm": Model(pipelines.audio_lstm_recipe, "shortterm", "audio shortterm"),
    "inception_lstm": Model(pipelines.inception_lstm_recipe, "maps", "audio maps"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> synthetic.SyntheticCorpus:
    return synthetic.write_corpus(tmp_path_factory.mktemp("corpus"), per_class={"train": 2, "val": 1, "test": 1},
                                  face_size=32, n_timeline=100)


@pytest.fixture(scope="module")
def fer_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i in range(14):
            writer.writerow([i % 7, " ".join(map(str, rng.integers(0, 256, 48 * 48))), "Training"])
    return path


def model_config(name: str, overrides: Mapping, fer_csv: Path) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())["models"][name]
    config.update(overrides)
    if name == "vgg_lstm":
        config["fer2013_csv"] = str(fer_csv) if config["fer_iterations"] else ""
    return config


@dataclass
class Run:
    """One training of a model on the synthetic corpus and what it saw."""

    name: str
    config: dict
    clips: list[Clip]
    statistics: dict
    result: TrainResult | None = None

    def trained(self) -> TrainedModel:
        return TrainedModel(self.name, self.name, self.result.model, self.config, CPU, self.statistics)

    def predictions(self, precision: str) -> np.ndarray:
        """Class probabilities of the usable val and test clips, predicted under `precision`."""
        trained = self.trained()
        with training.autocast(CPU, precision):
            return np.stack([predict_clip_probabilities(trained, clip.path) for clip in evaluation_clips(self.clips)])


def evaluation_clips(clips: list[Clip]) -> list[Clip]:
    return [clip for clip in clips if clip.split in ("val", "test") and clip.status == STATUS_OK]


def train(name: str, corpus: synthetic.SyntheticCorpus, config: dict, settings: TrainSettings, resume: Path,
          stop_after_steps: int | None = None, on_build: Callable[[nn.Module], None] | None = None) -> Run:
    """The model's recipe on the corpus's train clips through `run_stages`, as the pipeline runs it."""
    model = MODELS[name]
    clips = load_clips(corpus.manifest, getattr(corpus, model.artifacts), model.modality)
    train_clips = training_clips(clips, ("train",))
    plan = model.recipe(train_clips, config, settings.seed)
    if on_build is not None:
        for stage in plan.stages:
            stage.build = watched(stage.build, on_build)
    run = Run(name, config, clips, plan.statistics)
    run_id = fingerprint([name, config, settings.result_settings, [c.clip_id for c in train_clips]])
    run.result = run_stages(plan.stages, settings, resume, run_id, stop_after_steps)
    return run


def watched(build: Callable, on_build: Callable[[nn.Module], None]) -> Callable:
    def build_and_watch(previous):
        model = build(previous)
        on_build(model)
        return model

    return build_and_watch


class ComputeDtypes:
    """Forward hooks on every conv and linear layer: the dtypes of their outputs."""

    def __init__(self) -> None:
        self.seen: set[torch.dtype] = set()

    def __call__(self, model: nn.Module) -> None:
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.register_forward_hook(lambda _module, _inputs, output: self.seen.add(output.dtype))


def state_dicts_equal(left: nn.Module, right: nn.Module) -> bool:
    a, b = left.state_dict(), right.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


@pytest.fixture
def loaders(monkeypatch) -> list:
    """Every DataLoader `run_stages` builds from now on."""
    built: list = []
    real_make_loader = training.make_loader

    def spy(*args, **kwargs):
        loader = real_make_loader(*args, **kwargs)
        built.append(loader)
        return loader

    monkeypatch.setattr(training, "make_loader", spy)
    return built


def test_default_settings_keep_the_cpu_in_fp32_and_cuda_on_the_gpu_path():
    settings = TrainSettings()
    assert settings.precision == "auto" and set(settings.result_settings) == {"seed", "device"}
    assert not training.gpu_numerics(CPU, settings.precision)
    assert training.gpu_numerics(torch.device("cuda"), settings.precision)
    with training.autocast(CPU):
        assert not torch.is_autocast_enabled("cpu")
    with training.autocast(CPU, "bf16"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert torch.backends.mkldnn.enabled  # restored after the bf16 forward
    conv = nn.Conv2d(3, 4, 3)
    assert training.to_memory_format(conv, CPU) is conv and conv.weight.is_contiguous()
    assert training.to_memory_format(conv, CPU, "bf16").weight.is_contiguous(memory_format=torch.channels_last)
    assert TrainSettings(precision="bf16").result_settings["precision"] == "bf16"
    with pytest.raises(ValueError, match="precision"):
        TrainSettings(precision="fp16")


@pytest.mark.parametrize("name", list(MODELS))
def test_gpu_path_trains_and_resumes_each_deep_model_on_the_cpu(name, corpus, fer_csv, tmp_path, loaders):
    config = model_config(name, FAST[name], fer_csv)
    settings = TrainSettings(device="cpu", num_workers=1, checkpoint_every=2, precision="bf16")
    dtypes = ComputeDtypes()
    full = train(name, corpus, config, settings, tmp_path / "full.pt", on_build=dtypes)

    assert dtypes.seen == {torch.bfloat16}  # every conv and linear ran under bf16 autocast
    assert {loader.num_workers for loader in loaders} == {1}
    if name == "audio_lstm":
        assert {loader.collate_fn for loader in loaders} == {pipelines.collate_padded}
    model = full.result.model
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast keeps fp32 master weights
    convs = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    losses = [row["loss"] for row in full.result.log_rows]
    assert len(losses) == STEPS[name] and np.isfinite(losses).all()
    probabilities = full.predictions("bf16")
    # probability rows: autocast runs the softmax in float32 (eps 1.2e-7 over 7 classes)
    assert np.isfinite(probabilities).all() and np.allclose(probabilities.sum(1), 1.0, atol=1e-5)

    resume = tmp_path / "resumed.pt"
    with pytest.raises(TrainingInterrupted):
        train(name, corpus, config, settings, resume, stop_after_steps=STEPS[name] // 2 + 1)
    resumed = train(name, corpus, config, settings, resume)
    assert resumed.result.log_rows == full.result.log_rows
    assert state_dicts_equal(resumed.result.model, model)


def test_gpu_check_without_cuda_stops_at_once_with_one_line():
    hidden = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # no CUDA device, on a GPU machine too
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py")], capture_output=True,
                            text=True, cwd=REPO, timeout=120, env=hidden)
    output = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode != 0
    assert len(output) == 1 and "CUDA" in output[0], output


def benchmark(name: str):
    """A benchmarks/ script as a module (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def paper_scale_json(path: Path, device: str) -> Path:
    """A bench_paper_scale.py --json file with rows of its own Row type."""
    scale = benchmark("bench_paper_scale")
    rows = [scale.Row("vgg_lstm", "frames", "VGG-16", 64, 64, False, [0.02], 50.0, 3200.0, 50.0, 30000.0,
                      "cuda", {"fer2013": 20000, "frames": 10000}, 0.17),
            scale.Row("vgg_lstm", "sequences", "VGG-LSTM", 8, 8, False, [0.04], 25.0, 200.0, 25.0, 60000.0,
                      "cuda", {"sequences": 5000}, 0.06)]
    path.write_text(json.dumps({"device": device, "rows": [row.__dict__ for row in rows],
                                "hours_original_plus_refit": 1.0}))
    return path


def test_data_path_takes_the_gpu_rate_from_a_cuda_run_of_bench_paper_scale(tmp_path):
    data_path = benchmark("bench_data_path")
    cuda = paper_scale_json(tmp_path / "cuda.json", "cuda: NVIDIA H200 (bf16 autocast, channels_last)")
    rates, source = data_path.gpu_faces_per_s(str(cuda), 16)
    assert rates == {"frames": 3200.0, "sequences": 200.0 * 16} and "measured" in source
    rates, source = data_path.gpu_faces_per_s(None, 16)
    assert rates == {"frames": 5000.0, "sequences": 5000.0} and "estimated" in source
    with pytest.raises(SystemExit, match="not a CUDA run"):
        data_path.gpu_faces_per_s(str(paper_scale_json(tmp_path / "cpu.json", "cpu: x86_64")), 16)


def test_gpu_check_table_from_the_parts_outputs(tmp_path):
    """The table gpu_check prints, from outputs shaped as its parts write them on a GPU node."""
    check, data_path = benchmark("gpu_check"), benchmark("bench_data_path")
    rows = [data_path.Measurement("vgg_lstm", stage, workers, 64, faces, 0.1, 10, 1.0, rate, rate * faces,
                                  rate / max(1, workers), 500.0)
            for stage, faces in (("frames", 1), ("sequences", 16)) for workers, rate in ((1, 900.0), (2, 1700.0))]
    verdicts = data_path.feeding_verdict(rows, {"frames": 3200.0, "sequences": 3200.0}, "measured", 6, 16)
    assert [v["workers_needed"] for v in verdicts] == [5, 1] and verdicts[0]["ok"]
    assert verdicts[0]["paper_workers_deliver"] == 6 * 850.0 and not verdicts[0]["paper_workers_measured"]
    measured = data_path.feeding_verdict(rows, {"frames": 3200.0, "sequences": 3200.0}, "measured", 2, 16)[0]
    assert measured["paper_workers_measured"] and measured["paper_workers_deliver"] == 1700.0
    for run, shift in (("cpu", 0.0), ("device", 0.3)):
        for name in ("vgg_lstm_a", "fusion"):
            probs = [np.array([0.5 - shift, 0.2 + shift, 0.1, 0.1, 0.05, 0.03, 0.02]), np.eye(7)[3]]
            write_predictions(tmp_path / run / "predictions" / f"{name}.tsv",
                              [{"clip_id": f"c{i}", "split": "val", "label": "AN", "probs": p, "status": STATUS_OK}
                               for i, p in enumerate(probs)])
        (tmp_path / run / "metrics").mkdir()
        (tmp_path / run / "metrics" / "fusion.json").write_text(json.dumps({"val": {"accuracy": 0.5}}))
    demo = check.compare_demo_runs(tmp_path / "cpu", tmp_path / "device")
    assert demo["vgg_lstm_a"]["agreement"] == {"clips": 2, "same": 1, "rate": 0.5}
    assert demo["audio_lstm"]["agreement"] is None
    summary = {"gpu": "NVIDIA H200", "device": "cuda", "torch": "2.x", "commit": "abc", "cores": 16, "wall_s": 400.0,
               "parts": [{"name": "test_models", "returncode": 0, "note": "", "seconds": 40.0},
                         {"name": "data_path", "returncode": None, "note": "skipped: no time left", "seconds": 0.0}],
               "test_models": "41 passed in 38.2s",
               "paper_scale": json.loads(paper_scale_json(tmp_path / "scale.json", "cuda: NVIDIA H200").read_text()),
               "data_path": {"verdicts": verdicts, "gpu_rate_source": "measured"}, "headroom": 1.2, "demo": demo}
    text = check.table(summary)
    for expected in ("NVIDIA H200", "41 passed", "skipped: no time left", "vgg_lstm        frames", "30000",
                     "num_workers 6", "fusion", "50.0 %"):
        assert expected in text, expected


SLOW = {
    "vgg_lstm": {"width_multiplier": 0.125, "input_size": 32, "fer_iterations": 0, "frame_iterations": 150,
                 "sequence_iterations": 60, "frame_batch_size": 8, "sequence_batch_size": 2},
    "audio_lstm": {"iterations": 60, "hidden": 32},
    "inception_lstm": {"width_multiplier": 0.0625, "map_iterations": 80, "sequence_iterations": 80, "batch_size": 4,
                       "sequence_batch_size": 2, "lr_step_iterations": 1000},
}


@pytest.mark.slow
def test_bf16_predictions_agree_with_fp32(corpus, fer_csv, tmp_path):
    """The default CPU run's weights, predicted in bf16 as CUDA predicts and in fp32: the same class
    for at least MIN_AGREEMENT of the clips of all three models together."""
    same, total = 0, 0
    for name in MODELS:
        run = train(name, corpus, model_config(name, SLOW[name], fer_csv), TrainSettings(device="cpu"),
                    tmp_path / f"{name}.pt")
        fp32, bf16 = run.predictions("auto"), run.predictions("bf16")
        same += int((fp32.argmax(1) == bf16.argmax(1)).sum())
        total += len(fp32)
    assert same / total >= MIN_AGREEMENT, f"{same} of {total} clips"
