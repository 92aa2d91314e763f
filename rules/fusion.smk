# Decision fusion (paper 3.2): simplex-grid weights chosen on val, applied to test (refit mode: to
# the test predictions of the models retrained on train+val).


rule fusion:
    input:
        # one named input per configured model; refit mode adds the retrained models' test rows
        unpack(fusion_predictions),
        refit=fusion_refit_predictions,
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
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        fusion=config["fusion"],
    script:
        "../workflow_scripts/fusion.py"
