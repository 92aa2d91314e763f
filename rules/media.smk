# Media stage (paper 2.1): each clip's 60-fps timeline map and its 16 kHz mono audio, one job per
# shard of clips (avemotion.shards).


rule media:
    input:
        clips=shard_media_files,
    output:
        media=directory(layout.TIMELINE.shard_dir),
        table=layout.MEDIA_TABLE,
    log:
        "results/logs/{corpus}media/shard_{shard}.log",
    benchmark:
        "results/benchmarks/{corpus}media/shard_{shard}.tsv"
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    params:
        media=config["media"],
        clips=shard_rows,
    script:
        "../workflow_scripts/media.py"


rule media_index:
    input:
        manifest="results/{corpus}manifest.tsv",
        shards=per_shard(layout.MEDIA_TABLE),
    output:
        index="results/{corpus}media/index.tsv",
    log:
        "results/logs/{corpus}media_index/media_index.log",
    benchmark:
        "results/benchmarks/{corpus}media_index/media_index.tsv"
    conda:
        "../envs/core.yaml"
    params:
        timelines=per_clip(layout.TIMELINE),
        wavs=per_clip(layout.WAV),
    script:
        "../workflow_scripts/media_index.py"
