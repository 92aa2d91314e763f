# Decision fusion (paper 3.2): simplex-grid weights chosen on val, applied to test (refit mode: to
# the test predictions of the models retrained on train+val).


def fusion_predictions(wildcards):
    return {model: f"results/predictions/{model}.tsv" for model in config["fusion"]["models"]}


def fusion_refit_predictions(wildcards):
    if not config["fusion"]["refit"]:
        return {}
    return {model: f"results/predictions_refit/{model}.tsv" for model in config["fusion"]["models"]}


rule fusion:
    input:
        unpack(fusion_predictions),
        refit=lambda wildcards: list(fusion_refit_predictions(wildcards).values()),
    output:
        weights=report(
            "results/fusion/weights.json",
            caption="../report/fusion_weights.rst",
            category="Results",
            subcategory="Fusion",
            labels={"file": "weights.json"},
        ),
        predictions="results/predictions/fusion.tsv",
        metrics="results/metrics/fusion.json",
    log:
        "results/logs/fusion/fusion.log",
    benchmark:
        "results/benchmarks/fusion/fusion.tsv"
    params:
        fusion=config["fusion"],
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/fusion.py"


FINAL_TARGETS.append("results/metrics/fusion.json")
