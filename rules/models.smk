# Models stage (paper 2.1-2.4): the five models, one training rule each (the two VGG-LSTMs are one
# rule over the face track). Each writes its checkpoint, train_log.csv and curve.png under
# results/models{fit}/{model}/, its probabilities and metrics. {fit} "" trains on train and predicts
# val and test; "_refit" (paper 3.2: retrain on train+val for the test submission) predicts test
# only and runs only when the fusion asks.


rule vgg_lstm:
    input:
        manifest="results/manifest.tsv",
        faces=per_shard(layout.FACES_TABLE),
        user_files=pretraining_files,
    output:
        checkpoint="results/models{fit}/vgg_lstm_{track}/checkpoint.pt",
        train_log="results/models{fit}/vgg_lstm_{track}/train_log.csv",
        curve=report(
            "results/models{fit}/vgg_lstm_{track}/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="vgg_lstm_{track}{fit}",
        ),
        predictions="results/predictions{fit}/vgg_lstm_{track}.tsv",
        metrics="results/metrics{fit}/vgg_lstm_{track}.json",
    log:
        "results/logs/vgg_lstm_{track}{fit}/train.log",
    benchmark:
        "results/benchmarks/vgg_lstm_{track}{fit}/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=16000,
        runtime=24 * 60,
        gpu=1,
    params:
        faces=per_clip(layout.FACE_STACK),
        model=model_settings("vgg_lstm"),
        training=deep_training_settings(),
        name=vgg_lstm_name,
        train_splits=train_splits,
    script:
        "../workflow_scripts/train_vgg_lstm.py"


rule audio_svm:
    input:
        manifest="results/manifest.tsv",
        features=per_shard(layout.AUDIO_TABLE),
    output:
        model="results/models{fit}/audio_svm/checkpoint.pt",
        train_log="results/models{fit}/audio_svm/train_log.csv",
        curve=report(
            "results/models{fit}/audio_svm/curve.png",
            caption="../report/models_svm.rst",
            category="Models",
            subcategory="audio_svm{fit}",
        ),
        predictions="results/predictions{fit}/audio_svm.tsv",
        metrics="results/metrics{fit}/audio_svm.json",
    log:
        "results/logs/audio_svm{fit}/train.log",
    benchmark:
        "results/benchmarks/audio_svm{fit}/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        features=per_clip(layout.IS10, with_audio=True),
        model=model_settings("audio_svm"),
        training=svm_training_settings(),
        train_splits=train_splits,
    script:
        "../workflow_scripts/train_audio_svm.py"


rule audio_lstm:
    input:
        manifest="results/manifest.tsv",
        features=per_shard(layout.AUDIO_TABLE),
    output:
        checkpoint="results/models{fit}/audio_lstm/checkpoint.pt",
        train_log="results/models{fit}/audio_lstm/train_log.csv",
        curve=report(
            "results/models{fit}/audio_lstm/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="audio_lstm{fit}",
        ),
        predictions="results/predictions{fit}/audio_lstm.tsv",
        metrics="results/metrics{fit}/audio_lstm.json",
    log:
        "results/logs/audio_lstm{fit}/train.log",
    benchmark:
        "results/benchmarks/audio_lstm{fit}/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=8000,
        runtime=6 * 60,
        gpu=1,
    params:
        features=per_clip(layout.SHORTTERM, with_audio=True),
        model=model_settings("audio_lstm"),
        training=deep_training_settings(),
        train_splits=train_splits,
    script:
        "../workflow_scripts/train_audio_lstm.py"


rule inception_lstm:
    input:
        manifest="results/manifest.tsv",
        maps=per_shard(layout.AUDIO_TABLE),
    output:
        checkpoint="results/models{fit}/inception_lstm/checkpoint.pt",
        train_log="results/models{fit}/inception_lstm/train_log.csv",
        curve=report(
            "results/models{fit}/inception_lstm/curve.png",
            caption="../report/models_curve.rst",
            category="Models",
            subcategory="inception_lstm{fit}",
        ),
        predictions="results/predictions{fit}/inception_lstm.tsv",
        metrics="results/metrics{fit}/inception_lstm.json",
    log:
        "results/logs/inception_lstm{fit}/train.log",
    benchmark:
        "results/benchmarks/inception_lstm{fit}/train.tsv"
    conda:
        "../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=8000,
        runtime=12 * 60,
        gpu=1,
    params:
        maps=per_clip(layout.MAPS, with_audio=True),
        model=model_settings("inception_lstm"),
        training=deep_training_settings(),
        train_splits=train_splits,
    script:
        "../workflow_scripts/train_inception_lstm.py"
