# Media stage (paper 2.1): each clip's 60-fps timeline map and its 16 kHz mono audio.


rule media:
    input:
        clip=clip_path,
        audio=clip_audio_path,
    output:
        wav="results/media/{clip}.wav",
        timeline="results/media/{clip}.timeline.json",
    log:
        "results/logs/media/{clip}.log",
    benchmark:
        "results/benchmarks/media/{clip}.tsv"
    group:
        "per_clip"
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        media=config["media"],
        clip=manifest_row,
    script:
        "../workflow_scripts/media.py"


rule media_index:
    input:
        manifest="results/manifest.tsv",
        timelines=per_clip("results/media/{clip}.timeline.json"),
        wavs=per_clip("results/media/{clip}.wav"),
    output:
        index="results/media/index.tsv",
    log:
        "results/logs/media_index/media_index.log",
    benchmark:
        "results/benchmarks/media_index/media_index.tsv"
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/media_index.py"


FINAL_TARGETS.append("results/media/index.tsv")
