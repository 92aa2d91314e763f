# The trained hybrid network as one shareable file (docs/predict.md#bundles): the fused models'
# weights as arrays, the fusion weights, the settings that turn a clip into model input, metrics and
# a model card; `avemotion predict --bundle` runs it without results/ or this repository's config.


rule bundle:
    input:
        unpack(bundle_checkpoints),
        weights="results/fusion/weights.json",
        metrics=expand("results/metrics/{model}.json", model=report_models()),
        summary="results/report/summary.tsv",
        manifest="results/manifest.tsv",
    output:
        bundle="results/bundle/model.zip",
    log:
        "results/logs/bundle/bundle.log",
    benchmark:
        "results/benchmarks/bundle/bundle.tsv"
    conda:
        "../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        models=config["fusion"]["models"],
        metrics_names=report_models(),
        settings=bundle_settings,
        paper_deviations=paper_deviation_lines,
    script:
        "../workflow_scripts/bundle.py"
