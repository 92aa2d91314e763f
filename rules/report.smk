# Report (paper 3.2, Tables 1-6): per model and fused, accuracy and UAR with bootstrap 95 % intervals,
# confusion matrices beside the paper's, fusion gain over equal weights, every clip's status per stage.
from avemotion.config import paper_deviations

# Stage indices listed per clip in clips.tsv; a stage counts as present when its rule file put the
# index into FINAL_TARGETS (so the report works whichever stages are included).
REPORT_STAGE_INDICES = {
    "media": "results/media/index.tsv",
    "faces_a": "results/faces/a/index.tsv",
    "faces_b": "results/faces/b/index.tsv",
    "audio": "results/audio/index.tsv",
}
REPORT_MODELS = list(config["fusion"]["models"]) + ["fusion"]
REPORT_SUBMISSION = "results/submission/predictions.tsv"
# How the VGG-LSTMs were initialised: summary.md opens with a warning when not as in paper 2.1.
REPORT_VGG_LSTM_INIT = {
    key: config["models"]["vgg_lstm"][key]
    for key in ("vgg_face_weights", "fer2013_csv", "fer_iterations")
}
# Every setting of this run that differs from the paper's (avemotion.constants.PAPER_CONFIG).
REPORT_PAPER_DEVIATIONS = [str(deviation) for deviation in paper_deviations(config)]


rule report:
    input:
        # evaluated after every rule file is read, so FINAL_TARGETS is complete
        unpack(
            lambda wildcards: {
                f"index_{stage}": path
                for stage, path in REPORT_STAGE_INDICES.items()
                if path in FINAL_TARGETS
            }
        ),
        # the EmotiW submission's table, when rules/submission.smk is included
        unpack(
            lambda wildcards: (
                {"submission": REPORT_SUBMISSION}
                if "results/submission/submission.zip" in FINAL_TARGETS
                else {}
            )
        ),
        predictions=expand("results/predictions/{model}.tsv", model=REPORT_MODELS),
        weights="results/fusion/weights.json",
        manifest="results/manifest.tsv",
        quarantine="results/quarantine.tsv",
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
        confusions=[
            report(
                f"results/report/confusion_{model}.png",
                caption="../report/report_confusion.rst",
                category="Results",
                subcategory="Confusion matrices",
                labels={"model": model},
            )
            for model in REPORT_MODELS
        ],
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
        models=REPORT_MODELS,
        vgg_lstm_init=REPORT_VGG_LSTM_INIT,
        paper_deviations=REPORT_PAPER_DEVIATIONS,
    script:
        "../workflow_scripts/report.py"


FINAL_TARGETS.append("results/report/summary.md")
