"""Snakemake script of rule demo_corpus: generate the demo corpus into the folder of clips.tsv."""
from pathlib import Path

from avemotion.demo import generate_demo_corpus
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
demo = snakemake.params.demo
generate_demo_corpus(
    Path(snakemake.output.clips).parent,
    seed=demo["seed"],
    clips_per_class=demo["clips_per_class"],
    duration_s=tuple(demo["duration_s"]),
    frame_sizes=demo.get("frame_sizes"),
    frame_rates=demo.get("frame_rates"),
    threads=snakemake.threads,
)
