"""Latency of `avemotion predict` per clip on CPU, broken down by step: probe, media
(timeline + 16 kHz wav), faces (track a, track b), audio features, each of the five models, fusion.
Baseline measured in the same run: decoding every frame of the same clip with PyAV (ratios are
step time / decode time), and the clip's own duration (real-time factor).

With `--results` pointing at a finished pipeline run, its trained models and fusion weights are
used (pass the config the run used with `--config`). Without one, stand-in models of the config's
sizes are trained for one step per stage on synthetic features: latency depends on the sizes, not on
how well the weights were trained. Clips: `--clips` files, or demo clips generated here (one per
class, real faces and espeak-ng speech, see avemotion/demo.py).

    PYTHONPATH=. python benchmarks/bench_predict.py [--results results] [--config config.yaml]
        [--clips a.mp4 ...] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from avemotion.config import load_config
from avemotion.constants import CLASSES, FACE_TRACKS, MODELS

STEP_ROWS = ("probe", "media", "faces", "faces_a", "faces_b", "audio", "models",
             *(f"model_{m}" for m in MODELS), "fusion")


def decode_seconds(path: Path) -> tuple[float, float]:
    """(seconds to decode every video frame with PyAV, clip duration in seconds)."""
    import av

    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate or 25)
    return time.perf_counter() - start, n / fps


def stand_in_results(root: Path, config: dict) -> Path:
    """A results folder with the five models at the config's sizes (1 training step per stage on
    synthetic features in the real layouts) and equal fusion weights."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import synthetic_corpus as synthetic  # synthetic features in the artifact layouts: test support
    from avemotion.models import (ModelOutputs, train_audio_lstm, train_audio_svm,
                                  train_inception_lstm, train_vgg_lstm)

    models = json.loads(json.dumps(config["models"]))
    models["vgg_lstm"].update(fer2013_csv="", vgg_face_weights="", fer_iterations=0, frame_iterations=1,
                              sequence_iterations=1)
    models["audio_lstm"].update(iterations=1)
    models["inception_lstm"].update(map_iterations=1, sequence_iterations=1)
    corpus = synthetic.write_corpus(root / "features", per_class={"train": 1, "val": 1},
                                   face_size=int(config["faces"]["size"]), n_timeline=128)
    results, manifest = root / "results", corpus.manifest

    def outputs(name: str) -> ModelOutputs:
        folder = results / "models" / name
        return ModelOutputs.of(folder / "checkpoint.pt", folder / "train_log.csv", folder / "curve.png",
                               results / "predictions" / f"{name}.tsv", results / "metrics" / f"{name}.json")

    for track in FACE_TRACKS:
        train_vgg_lstm(manifest, corpus.faces, outputs(f"vgg_lstm_{track}"), models["vgg_lstm"],
                       models["training"], name=f"vgg_lstm_{track}")
    train_audio_lstm(manifest, corpus.shortterm, outputs("audio_lstm"), models["audio_lstm"], models["training"])
    train_inception_lstm(manifest, corpus.maps, outputs("inception_lstm"), models["inception_lstm"],
                         models["training"])
    train_audio_svm(manifest, corpus.is10, outputs("audio_svm"), models["audio_svm"],
                    models["training"])
    (results / "fusion").mkdir(parents=True)
    (results / "fusion" / "weights.json").write_text(json.dumps(
        {"models": list(MODELS), "weights": {m: 1 / len(MODELS) for m in MODELS}, "refit": False}))
    return results


def demo_clips(root: Path, config: dict) -> list[Path]:
    from avemotion.demo import generate_demo_corpus

    clips_tsv = generate_demo_corpus(root / "demo", seed=int(config["demo"]["seed"]), clips_per_class={"train": 0, "val": 0, "test": 1},
                                     duration_s=tuple(config["demo"]["duration_s"]))
    return sorted((clips_tsv.parent / "test").glob("*/*.mp4"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=None, help="a finished run's results folder (default: stand-in models)")
    parser.add_argument("--config", default=None, help="config file merged over config.yaml")
    parser.add_argument("--clips", nargs="*", default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(*([args.config] if args.config else []))
    from avemotion.predict import Predictor

    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        results = Path(args.results) if args.results else stand_in_results(root, config)
        setup_s = time.perf_counter() - start
        clips = [Path(c) for c in args.clips] if args.clips else demo_clips(root, config)
        start = time.perf_counter()
        predictor = Predictor(results, config, device="cpu")
        load_s = time.perf_counter() - start
        print(f"models: {'trained, ' + str(results) if args.results else f'stand-ins of the config sizes ({setup_s:.0f} s to build)'}; "
              f"loading the five models: {load_s:.2f} s; torch threads {args.threads}; {len(clips)} clips\n")
        rows = []
        for clip in clips:
            decode_s, duration_s = decode_seconds(clip)
            prediction = predictor.predict(clip)
            total = sum(prediction.timings.get(step, 0.0) for step in ("probe", "media", "faces", "audio", "models",
                                                                      "fusion"))
            rows.append({"clip": clip.name, "decode": decode_s, "duration": duration_s, "total": total,
                         **prediction.timings, "label": prediction.label or "-", "status": prediction.status})
        print(f"{'clip':<32}{'dur s':>6}{'total s':>8}{'x real':>7}{'/decode':>8}  label  status")
        for row in rows:
            print(f"{row['clip']:<32}{row['duration']:>6.2f}{row['total']:>8.2f}{row['total'] / row['duration']:>7.2f}"
                  f"{row['total'] / row['decode']:>8.1f}  {row['label']:<5}  {row['status']}")
        # the first clip pays one-off initialisations (openSMILE, MediaPipe graphs); steady state without it
        steady = rows[1:] or rows
        print(f"\nper step, median over {len(steady)} clip(s) (first clip left out when there are several):")
        print(f"{'step':<24}{'seconds':>9}{'share':>7}{'/decode':>9}")
        total = statistics.median(r["total"] for r in steady)
        decode = statistics.median(r["decode"] for r in steady)
        for step in STEP_ROWS:
            values = [r.get(step, 0.0) for r in steady]
            median = statistics.median(values)
            indent = "  " if step.startswith(("faces_", "model_")) else ""
            print(f"{indent + step:<24}{median:>9.3f}{median / total:>7.0%}{median / decode:>9.2f}")
        print(f"{'total':<24}{total:>9.3f}{1:>7.0%}{total / decode:>9.2f}")
        print(f"{'(baseline) PyAV decode':<24}{decode:>9.3f}")
        print(f"\nclasses: {' '.join(CLASSES)}; first clip total {rows[0]['total']:.2f} s")


if __name__ == "__main__":
    main()
