# Models stage (paper 2.1-2.4): the five models, one training rule each (the two VGG-LSTMs are one
# rule over the face track). Each writes its checkpoint, train_log.csv and curve.png under
# results/models/{model}/, its val/test probabilities and metrics. The *_refit rules (paper 3.2:
# retrain on train+val for the test submission) write results/models_refit/ and
# results/predictions_refit/, no metrics, and run only when the fusion stage asks.
from avemotion.constants import MODELS


rule vgg_lstm:
    input:
        manifest="results/manifest.tsv",
        faces=per_shard("results/faces/{track}/shard_{shard}.tsv"),
        user_files=pretraining_files,
    output:
        checkpoint="results/models/vgg_lstm_{track}/checkpoint.pt",
        train_log="results/models/vgg_lstm_{track}/train_log.csv",
        curve=report(
            "results/models/vgg_lstm_{track}/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="vgg_lstm_{track}",
        ),
        predictions="results/predictions/vgg_lstm_{track}.tsv",
        metrics="results/metrics/vgg_lstm_{track}.json",
    log:
        "results/logs/vgg_lstm_{track}/train.log",
    benchmark:
        "results/benchmarks/vgg_lstm_{track}/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=16000,
        runtime=24 * 60,
        gpu=1,
    params:
        faces=per_clip("results/faces/{track}/shard_{shard}/{clip}.h5"),
        model=config["models"]["vgg_lstm"],
        training=config["models"]["training"],
        name=vgg_lstm_name,
        train_splits=["train"],
    script:
        "../workflow_scripts/train_vgg_lstm.py"


rule audio_svm:
    input:
        manifest="results/manifest.tsv",
        features=per_shard("results/audio/shard_{shard}.tsv"),
    output:
        model="results/models/audio_svm/model.joblib",
        train_log="results/models/audio_svm/train_log.csv",
        curve=report(
            "results/models/audio_svm/curve.png",
            caption="../report/models_svm.rst",
            category="Models",
            subcategory="audio_svm",
        ),
        predictions="results/predictions/audio_svm.tsv",
        metrics="results/metrics/audio_svm.json",
    log:
        "results/logs/audio_svm/train.log",
    benchmark:
        "results/benchmarks/audio_svm/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        features=per_clip("results/audio/is10/shard_{shard}/{clip}.h5", with_audio=True),
        model=config["models"]["audio_svm"],
        training=config["models"]["training"],
        train_splits=["train"],
    script:
        "../workflow_scripts/train_audio_svm.py"


rule audio_lstm:
    input:
        manifest="results/manifest.tsv",
        features=per_shard("results/audio/shard_{shard}.tsv"),
    output:
        checkpoint="results/models/audio_lstm/checkpoint.pt",
        train_log="results/models/audio_lstm/train_log.csv",
        curve=report(
            "results/models/audio_lstm/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="audio_lstm",
        ),
        predictions="results/predictions/audio_lstm.tsv",
        metrics="results/metrics/audio_lstm.json",
    log:
        "results/logs/audio_lstm/train.log",
    benchmark:
        "results/benchmarks/audio_lstm/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=8000,
        runtime=6 * 60,
        gpu=1,
    params:
        features=per_clip(
            "results/audio/shortterm/shard_{shard}/{clip}.h5", with_audio=True
        ),
        model=config["models"]["audio_lstm"],
        training=config["models"]["training"],
        train_splits=["train"],
    script:
        "../workflow_scripts/train_audio_lstm.py"


rule inception_lstm:
    input:
        manifest="results/manifest.tsv",
        maps=per_shard("results/audio/shard_{shard}.tsv"),
    output:
        checkpoint="results/models/inception_lstm/checkpoint.pt",
        train_log="results/models/inception_lstm/train_log.csv",
        curve=report(
            "results/models/inception_lstm/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="inception_lstm",
        ),
        predictions="results/predictions/inception_lstm.tsv",
        metrics="results/metrics/inception_lstm.json",
    log:
        "results/logs/inception_lstm/train.log",
    benchmark:
        "results/benchmarks/inception_lstm/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=8000,
        runtime=12 * 60,
        gpu=1,
    params:
        maps=per_clip("results/audio/maps/shard_{shard}/{clip}.h5", with_audio=True),
        model=config["models"]["inception_lstm"],
        training=config["models"]["training"],
        train_splits=["train"],
    script:
        "../workflow_scripts/train_inception_lstm.py"


rule vgg_lstm_refit:
    input:
        manifest="results/manifest.tsv",
        faces=per_shard("results/faces/{track}/shard_{shard}.tsv"),
        user_files=pretraining_files,
    output:
        checkpoint="results/models_refit/vgg_lstm_{track}/checkpoint.pt",
        train_log="results/models_refit/vgg_lstm_{track}/train_log.csv",
        curve=report(
            "results/models_refit/vgg_lstm_{track}/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="vgg_lstm_{track}_refit",
        ),
        predictions="results/predictions_refit/vgg_lstm_{track}.tsv",
    log:
        "results/logs/vgg_lstm_{track}_refit/train.log",
    benchmark:
        "results/benchmarks/vgg_lstm_{track}_refit/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=16000,
        runtime=24 * 60,
        gpu=1,
    params:
        faces=per_clip("results/faces/{track}/shard_{shard}/{clip}.h5"),
        model=config["models"]["vgg_lstm"],
        training=config["models"]["training"],
        name=vgg_lstm_name,
        train_splits=["train", "val"],
    script:
        "../workflow_scripts/train_vgg_lstm.py"


rule audio_svm_refit:
    input:
        manifest="results/manifest.tsv",
        features=per_shard("results/audio/shard_{shard}.tsv"),
    output:
        model="results/models_refit/audio_svm/model.joblib",
        train_log="results/models_refit/audio_svm/train_log.csv",
        curve=report(
            "results/models_refit/audio_svm/curve.png",
            caption="../report/models_svm.rst",
            category="Models",
            subcategory="audio_svm_refit",
        ),
        predictions="results/predictions_refit/audio_svm.tsv",
    log:
        "results/logs/audio_svm_refit/train.log",
    benchmark:
        "results/benchmarks/audio_svm_refit/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        features=per_clip("results/audio/is10/shard_{shard}/{clip}.h5", with_audio=True),
        model=config["models"]["audio_svm"],
        training=config["models"]["training"],
        train_splits=["train", "val"],
    script:
        "../workflow_scripts/train_audio_svm.py"


rule audio_lstm_refit:
    input:
        manifest="results/manifest.tsv",
        features=per_shard("results/audio/shard_{shard}.tsv"),
    output:
        checkpoint="results/models_refit/audio_lstm/checkpoint.pt",
        train_log="results/models_refit/audio_lstm/train_log.csv",
        curve=report(
            "results/models_refit/audio_lstm/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="audio_lstm_refit",
        ),
        predictions="results/predictions_refit/audio_lstm.tsv",
    log:
        "results/logs/audio_lstm_refit/train.log",
    benchmark:
        "results/benchmarks/audio_lstm_refit/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=8000,
        runtime=6 * 60,
        gpu=1,
    params:
        features=per_clip(
            "results/audio/shortterm/shard_{shard}/{clip}.h5", with_audio=True
        ),
        model=config["models"]["audio_lstm"],
        training=config["models"]["training"],
        train_splits=["train", "val"],
    script:
        "../workflow_scripts/train_audio_lstm.py"


rule inception_lstm_refit:
    input:
        manifest="results/manifest.tsv",
        maps=per_shard("results/audio/shard_{shard}.tsv"),
    output:
        checkpoint="results/models_refit/inception_lstm/checkpoint.pt",
        train_log="results/models_refit/inception_lstm/train_log.csv",
        curve=report(
            "results/models_refit/inception_lstm/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="inception_lstm_refit",
        ),
        predictions="results/predictions_refit/inception_lstm.tsv",
    log:
        "results/logs/inception_lstm_refit/train.log",
    benchmark:
        "results/benchmarks/inception_lstm_refit/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=8000,
        runtime=12 * 60,
        gpu=1,
    params:
        maps=per_clip("results/audio/maps/shard_{shard}/{clip}.h5", with_audio=True),
        model=config["models"]["inception_lstm"],
        training=config["models"]["training"],
        train_splits=["train", "val"],
    script:
        "../workflow_scripts/train_inception_lstm.py"


FINAL_TARGETS.extend(
    expand("results/predictions/{model}.tsv", model=MODELS)
    + expand("results/metrics/{model}.json", model=MODELS)
)
