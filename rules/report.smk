# Report (paper 3.2, Tables 1-6): per model and fused, accuracy and UAR with bootstrap 95 % intervals,
# confusion matrices beside the paper's, fusion gain over equal weights, every clip's status per stage.


rule report:
    input:
        unpack(report_stage_indices),
        submission="results/submission/predictions.tsv",
        predictions=expand("results/predictions/{model}.tsv", model=report_models()),
        weights="results/fusion/weights.json",
        manifest="results/manifest.tsv",
        quarantine="results/quarantine.tsv",
        evaluation=report_evaluation_files,
    output:
        summary=report(
            "results/report/summary.md",
            caption="../report/report_summary.rst",
            category="Results",
            subcategory="Summary",
            labels={"file": "summary.md"},
        ),
        table=report(
            "results/report/summary.tsv",
            caption="../report/report_summary_table.rst",
            category="Results",
            subcategory="Summary",
            labels={"file": "summary.tsv"},
        ),
        clips=report(
            "results/report/clips.tsv",
            caption="../report/report_clips.rst",
            category="Results",
            subcategory="Clips",
            labels={"file": "clips.tsv"},
        ),
        confusions=report_confusion_figures(),
    log:
        "results/logs/report/report.log",
    benchmark:
        "results/benchmarks/report/report.tsv"
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        report=config["report"],
        models=report_models(),
        vgg_lstm_init=vgg_lstm_init,
        paper_deviations=paper_deviation_lines,
        datasets=report_datasets(),
        evaluations=report_evaluations,
    script:
        "../workflow_scripts/report.py"
