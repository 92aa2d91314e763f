# Audio stage (paper 2.2-2.4): per clip, openSMILE IS10 functionals, the pyAudioAnalysis short-term
# sequence and the 34x34 audio maps (read from the short-term sequence); then one index table.
# The three artifacts come from one job per clip: a job's start (Python, Snakemake, the openSMILE
# extractor) costs more than the maps themselves, and fewer jobs keep the DAG of large datasets fast.


rule audio_features:
    input:
        wav="results/media/{clip}.wav",
    output:
        is10="results/audio/is10/{clip}.h5",
        shortterm="results/audio/shortterm/{clip}.h5",
        maps="results/audio/maps/{clip}.h5",
    log:
        "results/logs/audio_features/{clip}.log",
    benchmark:
        "results/benchmarks/audio_features/{clip}.tsv"
    group:
        "per_clip"
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        checks=config["audio"]["checks"],
        shortterm=config["audio"]["shortterm"],
        maps=config["audio"]["maps"],
    script:
        "../workflow_scripts/audio_features.py"


rule audio_index:
    input:
        manifest="results/manifest.tsv",
        is10=per_clip("results/audio/is10/{clip}.h5"),
        shortterm=per_clip("results/audio/shortterm/{clip}.h5"),
        maps=per_clip("results/audio/maps/{clip}.h5"),
    output:
        index="results/audio/index.tsv",
    log:
        "results/logs/audio_index/audio_index.log",
    benchmark:
        "results/benchmarks/audio_index/audio_index.tsv"
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/audio_index.py"


FINAL_TARGETS.append("results/audio/index.tsv")
