"""The `avemotion` command."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .logs import filter_native_stderr

CONFIG_HELP = "a config file merged over the repository's config.yaml, like Snakemake's --configfile"


def _config(configfile: str | None) -> dict:
    from .config import load_config

    return load_config(configfile) if configfile else load_config()


def cmd_demo_corpus(args: argparse.Namespace) -> int:
    from .demo import generate_demo_corpus

    demo = _config(args.config)["demo"]
    seed = args.seed if args.seed is not None else demo["seed"]
    options = {k: v for k, v in demo.items() if k not in ("seed", "clips_per_class", "duration_s")}
    clips = generate_demo_corpus(Path(args.out), seed=seed, clips_per_class=demo["clips_per_class"],
                                 duration_s=tuple(demo["duration_s"]), threads=args.threads, **options)
    print(clips)
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    from .datasets import build_manifest

    config = _config(args.config)
    n_ok, n_quarantined = build_manifest(config["dataset"], config["probe"], args.manifest, args.quarantine,
                                         threads=args.threads, demo_list=args.demo_list)
    print(f"{n_ok} clips in {args.manifest}; {n_quarantined} in {args.quarantine}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .bundle import BundleError
    from .models.training import NoCudaDevice, select_device
    from .predict import Predictor, expand_clip_paths, format_table, predictions_json

    try:
        device = select_device(args.device, setting="--device")
        predictor = Predictor(args.results, args.config, str(device), bundle=args.bundle)
    except (NoCudaDevice, BundleError) as error:
        print(f"avemotion predict: {error}", file=sys.stderr)
        return 2
    for difference in predictor.differences:
        print(f"avemotion predict: note: {difference}", file=sys.stderr)
    predictions = [predictor.predict(path) for path in expand_clip_paths(args.clips)]
    print(predictions_json(predictions) if args.json else format_table(predictions))
    if not predictions:
        print("no video files found in the given paths", file=sys.stderr)
        return 1
    return 1 if any(p.label is None for p in predictions) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avemotion", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo-corpus", help="generate the demo corpus (clips.tsv + clips)")
    demo.add_argument("--out", default="results/demo_corpus")
    demo.add_argument("--config", default=None, help=CONFIG_HELP + "; its demo: block is read")
    demo.add_argument("--seed", type=int, default=None, help="overrides demo.seed")
    demo.add_argument("--threads", type=int, default=2)
    demo.set_defaults(handler=cmd_demo_corpus)

    manifest = commands.add_parser("manifest", help="probe the configured dataset into manifest + quarantine")
    manifest.add_argument("--config", default=None, help=CONFIG_HELP + "; its dataset: and probe: blocks are read")
    manifest.add_argument("--manifest", default="results/manifest.tsv")
    manifest.add_argument("--quarantine", default="results/quarantine.tsv")
    manifest.add_argument("--demo-list", default="results/demo_corpus/clips.tsv")
    manifest.add_argument("--threads", type=int, default=2)
    manifest.set_defaults(handler=cmd_manifest)

    predict = commands.add_parser(
        "predict", help="predict the emotion of new clips with the trained hybrid network",
        description="Run the pipeline's media, face and audio code, the five trained models and the fusion "
                    "weights on each clip; print the fused label and probabilities and each model's. "
                    "Exit status 1 when some clip got no prediction (the others are still printed).")
    predict.add_argument("clips", nargs="+", metavar="CLIP_OR_FOLDER", help="video files or folders of them")
    predict.add_argument("--results", default="results", help="the finished pipeline's results folder")
    predict.add_argument("--config", default=None,
                         help="the config the pipeline ran with: " + CONFIG_HELP)
    predict.add_argument("--bundle", default=None, metavar="MODEL_ZIP",
                         help="a trained network's bundle (results/bundle/model.zip of a run); "
                              "--results and --config are then not read")
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"],
                         help="torch device for the deep models (auto: CUDA where present)")
    predict.set_defaults(handler=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    filter_native_stderr()  # MediaPipe's start-up lines: debug level, not the user's terminal
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
