# Dataset stage: the generated demo corpus, and the manifest/quarantine tables (paper 3.1) of the
# training datasets ({corpus} "") and of each evaluation dataset ("evaluate/<name>/").


rule demo_corpus:
    output:
        clips="results/demo_corpus/clips.tsv",
    log:
        "results/logs/demo_corpus/demo_corpus.log",
    benchmark:
        "results/benchmarks/demo_corpus/demo_corpus.tsv"
    conda:
        "../envs/demo.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        demo=config["demo"],
    script:
        "../workflow_scripts/demo_corpus.py"


checkpoint manifest:
    input:
        dataset_inputs,
    output:
        manifest="results/{corpus}manifest.tsv",
        quarantine="results/{corpus}quarantine.tsv",
    log:
        "results/logs/{corpus}manifest/manifest.log",
    benchmark:
        "results/benchmarks/{corpus}manifest/manifest.tsv"
    conda:
        "../envs/core.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        dataset=manifest_datasets,
        probe=config["probe"],
    script:
        "../workflow_scripts/manifest.py"
