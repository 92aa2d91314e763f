# Media stage (paper 2.1): each clip's 60-fps timeline map and its 16 kHz mono audio, one job per
# shard of clips (avemotion.shards).


rule media:
    input:
        clips=shard_media_files,
    output:
        media=directory("results/media/shard_{shard}"),
        table="results/media/shard_{shard}.tsv",
    log:
        "results/logs/media/shard_{shard}.log",
    benchmark:
        "results/benchmarks/media/shard_{shard}.tsv"
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
        manifest="results/manifest.tsv",
        shards=per_shard("results/media/shard_{shard}.tsv"),
    output:
        index="results/media/index.tsv",
    log:
        "results/logs/media_index/media_index.log",
    benchmark:
        "results/benchmarks/media_index/media_index.tsv"
    conda:
        "../envs/core.yaml"
    params:
        timelines=per_clip("results/media/shard_{shard}/{clip}.timeline.json"),
    script:
        "../workflow_scripts/media_index.py"


FINAL_TARGETS.append("results/media/index.tsv")
