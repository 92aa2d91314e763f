# Face stage (paper 2.1): per shard of clips and face track, the subject's face in every unique source
# frame, aligned by its eye corners, as an HDF5 face stack on the 60-fps timeline; per-track index; QC.


rule faces:
    input:
        videos=shard_video_files,
        media=shard_media_table,
    output:
        stacks=directory(layout.FACE_STACK.shard_dir),
        table=layout.FACES_TABLE,
    log:
        "results/logs/{corpus}faces/{track}/shard_{shard}.log",
    benchmark:
        "results/benchmarks/{corpus}faces/{track}/shard_{shard}.tsv"
    conda:
        "../envs/faces.yaml"
    # one core: the analysis runs on one thread (the decoding and gzip threads mostly wait), so two
    # shards side by side use two cores where one job with threads: 2 used one
    threads: 1
    resources:
        mem_mb=1500,
        runtime=6 * 60,
    params:
        faces=track_face_settings,
        videos=shard_videos,
        media=layout.TIMELINE.shard_dir,
        crop_clips=shard_crop_clips,
    script:
        "../workflow_scripts/faces.py"


rule faces_index:
    input:
        manifest="results/{corpus}manifest.tsv",
        shards=per_shard(layout.FACES_TABLE),
    output:
        index="results/{corpus}faces/{track}/index.tsv",
    log:
        "results/logs/{corpus}faces_index/{track}.log",
    benchmark:
        "results/benchmarks/{corpus}faces_index/{track}.tsv"
    conda:
        "../envs/faces.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        stacks=per_clip(layout.FACE_STACK),
    script:
        "../workflow_scripts/faces_index.py"


rule faces_qc:
    input:
        manifest="results/{corpus}manifest.tsv",
        shards=per_shard(layout.FACES_TABLE, track=FACE_TRACKS),
    output:
        montage_train=report(
            "results/{corpus}faces/qc/montage_train.png",
            caption="../report/faces_montage.rst",
            category="Faces",
        ),
        montage_val=report(
            "results/{corpus}faces/qc/montage_val.png",
            caption="../report/faces_montage.rst",
            category="Faces",
        ),
        montage_test=report(
            "results/{corpus}faces/qc/montage_test.png",
            caption="../report/faces_montage.rst",
            category="Faces",
        ),
        detection=report(
            "results/{corpus}faces/qc/detection.tsv",
            caption="../report/faces_detection.rst",
            category="Faces",
        ),
    log:
        "results/logs/{corpus}faces_qc/faces_qc.log",
    benchmark:
        "results/benchmarks/{corpus}faces_qc/faces_qc.tsv"
    conda:
        "../envs/faces.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        stacks=face_stacks_by_track,
    script:
        "../workflow_scripts/faces_qc.py"
