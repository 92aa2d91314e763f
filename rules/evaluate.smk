# Cross-corpus evaluation (docs/datasets.md#cross-corpus-evaluation): every clip of an evaluation
# dataset, each split, predicted by each trained model (the refit twin when the fusion refits it, on
# the device it trained on)
# and fused with the weights chosen on the training datasets' val split. Nothing trains here, and no
# training job reads these files: adding or editing an evaluation dataset reruns its own jobs only.


rule evaluate_model:
    input:
        checkpoint=evaluation_checkpoint,
        manifest="results/evaluate/{dataset}/manifest.tsv",
        tables=evaluation_tables,
    output:
        predictions="results/evaluate/{dataset}/predictions/{model}.tsv",
    log:
        "results/logs/evaluate/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}/{model}.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=evaluation_gpus,
    params:
        clips=evaluation_clip_files,
        device=evaluation_device,
    script:
        "../workflow_scripts/evaluate_model.py"


rule evaluate_fusion:
    input:
        unpack(evaluation_fusion_predictions),
        weights="results/fusion/weights.json",
    output:
        predictions="results/evaluate/{dataset}/predictions/fusion.tsv",
    log:
        "results/logs/evaluate/{dataset}/fusion.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}/fusion.tsv"
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        models=config["fusion"]["models"],
    script:
        "../workflow_scripts/evaluate_fusion.py"
