# avemotion: hybrid audio-video emotion recognition (EmotiW 2017) as a Snakemake workflow.
# Table of contents only; every stage lives in rules/, every input function in rules/common.smk.
import os

from snakemake.utils import min_version

min_version("9.0")


# config.yaml of the working directory when it has one (snakemake --directory DIR), else the workflow's
configfile:
    "config.yaml"
    if os.path.exists("config.yaml")
    else os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"


rule all:
    default_target: True
    input:
        get_final_output(),


# On a cluster these run where Snakemake runs (docs/cluster.md): each reads the
# per-clip files, predictions or finished models and writes one table, figure or file, in seconds.
localrules:
    all,
    media_index,
    faces_index,
    faces_qc,
    audio_index,
    fusion,
    submission,
    report,
    bundle,
    evaluate_fusion,


include: "rules/dataset.smk"
include: "rules/media.smk"
include: "rules/faces.smk"
include: "rules/audio.smk"
include: "rules/models.smk"
include: "rules/fusion.smk"
include: "rules/submission.smk"
include: "rules/report.smk"
include: "rules/bundle.smk"
include: "rules/evaluate.smk"
