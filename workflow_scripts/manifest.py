from avemotion.datasets import build_manifest
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
build_manifest(
    snakemake.params.dataset,
    snakemake.params.probe,
    snakemake.output.manifest,
    snakemake.output.quarantine,
    threads=snakemake.threads,
    demo_list=snakemake.input[0] if snakemake.params.dataset["kind"] == "demo" else "",
)
