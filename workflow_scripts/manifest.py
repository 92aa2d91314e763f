from avemotion.datasets import build_manifest
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
# the demo corpus, when a training dataset is the demo, is read from its rule's output,
# results/demo_corpus/clips.tsv (build_manifest's default)
build_manifest(
    snakemake.params.dataset,
    snakemake.params.probe,
    snakemake.output.manifest,
    snakemake.output.quarantine,
    threads=snakemake.threads,
)
