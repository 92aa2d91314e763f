"""The `avemotion` command."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml


def _load_block(configfile: str, block: str) -> dict:
    return yaml.safe_load(Path(configfile).read_text())[block]


def cmd_demo_corpus(args: argparse.Namespace) -> int:
    from .demo import generate_demo_corpus

    demo = _load_block(args.config, "demo")
    seed = args.seed if args.seed is not None else demo["seed"]
    options = {k: v for k, v in demo.items() if k not in ("seed", "clips_per_class", "duration_s")}
    clips = generate_demo_corpus(Path(args.out), seed=seed, clips_per_class=demo["clips_per_class"],
                                 duration_s=tuple(demo["duration_s"]), threads=args.threads, **options)
    print(clips)
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    from .datasets import build_manifest

    config = yaml.safe_load(Path(args.config).read_text())
    n_ok, n_quarantined = build_manifest(config["dataset"], config["probe"], args.manifest, args.quarantine,
                                         threads=args.threads, demo_list=args.demo_list)
    print(f"{n_ok} clips in {args.manifest}; {n_quarantined} in {args.quarantine}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avemotion", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo-corpus", help="generate the demo corpus (clips.tsv + clips)")
    demo.add_argument("--out", default="results/demo_corpus")
    demo.add_argument("--config", default="config.yaml", help="reads its demo: block")
    demo.add_argument("--seed", type=int, default=None, help="overrides demo.seed")
    demo.add_argument("--threads", type=int, default=2)
    demo.set_defaults(handler=cmd_demo_corpus)

    manifest = commands.add_parser("manifest", help="probe the configured dataset into manifest + quarantine")
    manifest.add_argument("--config", default="config.yaml")
    manifest.add_argument("--manifest", default="results/manifest.tsv")
    manifest.add_argument("--quarantine", default="results/quarantine.tsv")
    manifest.add_argument("--demo-list", default="results/demo_corpus/clips.tsv")
    manifest.add_argument("--threads", type=int, default=2)
    manifest.set_defaults(handler=cmd_manifest)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
