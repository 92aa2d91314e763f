# Audio stage (paper 2.2-2.4): per clip, openSMILE IS10 functionals, the pyAudioAnalysis short-term
# sequence and the 34x34 audio maps (read from the short-term sequence); then one index table.
# One job per shard of clips writes all three: a job's start (Python, Snakemake, the openSMILE
# extractor) costs more than a clip's features, and fewer jobs keep the DAG of large datasets fast.


rule audio_features:
    input:
        media=shard_media_table,
    output:
        is10=directory(layout.IS10.shard_dir),
        shortterm=directory(layout.SHORTTERM.shard_dir),
        maps=directory(layout.MAPS.shard_dir),
        table=layout.AUDIO_TABLE,
    log:
        "results/logs/{corpus}audio_features/shard_{shard}.log",
    benchmark:
        "results/benchmarks/{corpus}audio_features/shard_{shard}.tsv"
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    params:
        media=layout.WAV.shard_dir,
        audio=config["audio"],
        clips=shard_clip_ids,
    script:
        "../workflow_scripts/audio_features.py"


rule audio_index:
    input:
        manifest="results/{corpus}manifest.tsv",
        shards=per_shard(layout.AUDIO_TABLE),
    output:
        index="results/{corpus}audio/index.tsv",
    log:
        "results/logs/{corpus}audio_index/audio_index.log",
    benchmark:
        "results/benchmarks/{corpus}audio_index/audio_index.tsv"
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        is10=per_clip(layout.IS10),
        shortterm=per_clip(layout.SHORTTERM),
        maps=per_clip(layout.MAPS),
    script:
        "../workflow_scripts/audio_index.py"
