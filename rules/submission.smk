# EmotiW submission (the challenge's test set, paper 3.2 / Table 6): one <clip_id>.txt per test clip
# holding the fused prediction's emotion name, zipped; the fused test rows are the refit models' when
# fusion.refit is on. Test clips without a prediction are listed in predictions.tsv with the reason.


rule submission:
    input:
        predictions="results/predictions/fusion.tsv",
        manifest="results/manifest.tsv",
        quarantine="results/quarantine.tsv",
    output:
        zip="results/submission/submission.zip",
        table=report(
            "results/submission/predictions.tsv",
            caption="../report/submission.rst",
            category="Results",
            subcategory="Submission",
            labels={"file": "predictions.tsv"},
        ),
    log:
        "results/logs/submission/submission.log",
    benchmark:
        "results/benchmarks/submission/submission.tsv"
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        datasets=submission_datasets(),
    script:
        "../workflow_scripts/submission.py"
