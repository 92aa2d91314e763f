"""Training throughput through the real data path (per-clip HDF5 files, Dataset, DataLoader) divided
by the same model on in-memory tensors, for each deep model (target >= 0.9).

    PYTHONPATH=. python benchmarks/bench_training.py [--steps 30] [--workers 0] [--device auto]

Synthetic clips in the exact face/audio layouts are written to a temporary folder. One run, one
number per model; on CUDA the loader pins memory and uses `--workers` processes.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch import nn

from avemotion.models import data
from avemotion.models.clips import load_clips
from avemotion.models.heads import AudioLSTM
from avemotion.models.inception import BNInception, InceptionLSTM
from avemotion.models.sampling import feature_statistics
from avemotion.models.training import Solver, Stage, TrainSettings, autocast, forward, make_loader, select_device, to_device

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import synthetic_corpus as synthetic  # noqa: E402  (synthetic clips in the artifact layouts: test support)
from avemotion.models.vgg import VGG16, VGGLSTM

REPO = Path(__file__).resolve().parents[1]


def train_steps(model: nn.Module, batches, device: torch.device) -> float:
    """Seconds for optimisation steps over `batches` (after one warm-up step)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    start = None
    for i, (inputs, targets) in enumerate(batches):
        if i == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        inputs, targets = to_device(inputs, device), to_device(targets, device)
        with autocast(device):
            loss = loss_fn(forward(model, inputs).float(), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def compare(name: str, build, dataset, batch_size: int, steps: int, settings: TrainSettings,
            device: torch.device, collate=None) -> float:
    stage = Stage(name, lambda _: None, dataset, steps + 1, batch_size, Solver(lr=1e-4), collate_fn=collate)
    loader = make_loader(stage, settings, 0, 0, device)
    cached = [(to_device(inputs, device), to_device(targets, device)) for inputs, targets in loader]
    memory_seconds = loader_seconds = float("inf")
    for _ in range(2):  # alternate and keep the best of two: the machine may be shared
        torch.manual_seed(0)
        memory_seconds = min(memory_seconds, train_steps(build().to(device).train(), cached, device))
        torch.manual_seed(0)
        loader_seconds = min(loader_seconds, train_steps(build().to(device).train(),
                                                         make_loader(stage, settings, 0, 0, device), device))
    ratio = memory_seconds / loader_seconds
    print(f"{name:16s} in-memory {steps / memory_seconds:7.2f} steps/s   real data path "
          f"{steps / loader_seconds:7.2f} steps/s   ratio {ratio:.3f}  ({'ok' if ratio >= 0.9 else 'BELOW 0.9'})")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--paper", action="store_true", help="paper sizes (configs/paper.yaml); needs a GPU")
    args = parser.parse_args()
    config = yaml.safe_load((REPO / ("configs/paper.yaml" if args.paper else "config.yaml")).read_text())["models"]
    if not args.paper:
        torch.set_num_threads(2)
    device = select_device(args.device)
    settings = TrainSettings(seed=0, device=args.device, num_workers=args.workers, checkpoint_every=10**9)
    vgg, inception, audio = config["vgg_lstm"], config["inception_lstm"], config["audio_lstm"]
    with tempfile.TemporaryDirectory() as folder:
        corpus = synthetic.write_corpus(folder, per_class={"train": 4}, face_size=64 if not args.paper else 224,
                                       n_timeline=150)
        clips = load_clips(corpus.manifest, corpus.faces, "faces")
        print(f"device {device}, {args.workers} loader workers, {args.steps} steps each")
        compare("vgg frames", lambda: VGG16(vgg["input_size"], vgg["width_multiplier"]), data.FaceFrames(clips),
                vgg["frame_batch_size"], args.steps, settings, device)
        compare("vgg_lstm", lambda: VGGLSTM(VGG16(vgg["input_size"], vgg["width_multiplier"]), vgg["lstm_hidden"]),
                data.FaceSequences(clips, vgg["sequence_length"], vgg["frame_gap"]), vgg["sequence_batch_size"],
                args.steps, settings, device)
        audio_clips = load_clips(corpus.manifest, corpus.shortterm, "shortterm")
        mean, std = feature_statistics([data.read_audio_array(c.path) for c in audio_clips])
        compare("audio_lstm", lambda: AudioLSTM(34, audio["hidden"]),
                data.AudioSequences(audio_clips, mean, std, audio["min_sequence_length"]), audio["batch_size"],
                args.steps, settings, device, collate=data.collate_padded)
        map_clips = load_clips(corpus.manifest, corpus.maps, "maps")
        scale = (0.0, 1.0)
        compare("inception maps", lambda: BNInception(inception["width_multiplier"]), data.AudioMaps(map_clips, scale),
                inception["batch_size"], args.steps, settings, device)
        compare("inception_lstm", lambda: InceptionLSTM(BNInception(inception["width_multiplier"]),
                                                        inception["lstm_hidden"]),
                data.MapSequences(map_clips, scale, inception["sequence_length"]),
                inception["sequence_batch_size"], args.steps, settings, device)


if __name__ == "__main__":
    main()
