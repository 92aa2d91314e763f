# Models stage (paper 2.1-2.4): the five models, one training rule each. Each writes its checkpoint,
# train_log.csv and curve.png under results/models/{model}/, its val/test probabilities and metrics.
# The *_refit rules (paper 3.2: retrain on train+val for the test submission) write
# results/models_refit/ and results/predictions_refit/ and run only when the fusion stage asks.
from avemotion.constants import FACE_TRACKS, MODELS


def optional_files(*paths):
    """The configured user files (VGG-Face weights, fer2013.csv) as inputs, so edits rerun the job."""
    return [path for path in paths if path]


MODEL_MODES = {
    # mode: (model folder, predictions folder, training splits, metrics pattern or None)
    "": ("results/models", "results/predictions", ["train"], "results/metrics/{model}.json"),
    "_refit": ("results/models_refit", "results/predictions_refit", ["train", "val"], None),
}

for mode, (models_dir, predictions_dir, train_splits, metrics_pattern) in MODEL_MODES.items():
    for track in FACE_TRACKS:

        rule:
            name:
                f"vgg_lstm_{track}{mode}"
            input:
                manifest="results/manifest.tsv",
                faces=per_clip(f"results/faces/{track}/{{clip}}.h5"),
                user_files=optional_files(
                    config["models"]["vgg_lstm"]["vgg_face_weights"],
                    config["models"]["vgg_lstm"]["fer2013_csv"],
                ),
            output:
                checkpoint=f"{models_dir}/vgg_lstm_{track}/checkpoint.pt",
                train_log=f"{models_dir}/vgg_lstm_{track}/train_log.csv",
                curve=report(
                    f"{models_dir}/vgg_lstm_{track}/curve.png",
                    caption="../report/models_curve.rst",
                    category="Models",
                    subcategory=f"vgg_lstm_{track}{mode}",
                ),
                predictions=f"{predictions_dir}/vgg_lstm_{track}.tsv",
                **({"metrics": metrics_pattern.format(model=f"vgg_lstm_{track}")} if metrics_pattern else {}),
            log:
                f"results/logs/vgg_lstm_{track}{mode}/train.log",
            benchmark:
                f"results/benchmarks/vgg_lstm_{track}{mode}/train.tsv"
            params:
                model=config["models"]["vgg_lstm"],
                training=config["models"]["training"],
                name=f"vgg_lstm_{track}",
                train_splits=train_splits,
            conda:
                "../envs/models.yaml"
            threads: 2
            resources:
                mem_mb=16000,
                runtime=24 * 60,
                gpu=1,
            script:
                "../workflow_scripts/train_vgg_lstm.py"

    rule:
        name:
            f"audio_svm{mode}"
        input:
            manifest="results/manifest.tsv",
            features=per_clip("results/audio/is10/{clip}.h5", with_audio=True),
        output:
            model=f"{models_dir}/audio_svm/model.joblib",
            train_log=f"{models_dir}/audio_svm/train_log.csv",
            curve=report(
                f"{models_dir}/audio_svm/curve.png",
                caption="../report/models_svm.rst",
                category="Models",
                subcategory=f"audio_svm{mode}",
            ),
            predictions=f"{predictions_dir}/audio_svm.tsv",
            **({"metrics": metrics_pattern.format(model="audio_svm")} if metrics_pattern else {}),
        log:
            f"results/logs/audio_svm{mode}/train.log",
        benchmark:
            f"results/benchmarks/audio_svm{mode}/train.tsv"
        params:
            model=config["models"]["audio_svm"],
            training=config["models"]["training"],
            train_splits=train_splits,
        conda:
            "../envs/models.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=60,
        script:
            "../workflow_scripts/train_audio_svm.py"

    rule:
        name:
            f"audio_lstm{mode}"
        input:
            manifest="results/manifest.tsv",
            features=per_clip("results/audio/shortterm/{clip}.h5", with_audio=True),
        output:
            checkpoint=f"{models_dir}/audio_lstm/checkpoint.pt",
            train_log=f"{models_dir}/audio_lstm/train_log.csv",
            curve=report(
                f"{models_dir}/audio_lstm/curve.png",
                caption="../report/models_curve.rst",
                category="Models",
                subcategory=f"audio_lstm{mode}",
            ),
            predictions=f"{predictions_dir}/audio_lstm.tsv",
            **({"metrics": metrics_pattern.format(model="audio_lstm")} if metrics_pattern else {}),
        log:
            f"results/logs/audio_lstm{mode}/train.log",
        benchmark:
            f"results/benchmarks/audio_lstm{mode}/train.tsv"
        params:
            model=config["models"]["audio_lstm"],
            training=config["models"]["training"],
            train_splits=train_splits,
        conda:
            "../envs/models.yaml"
        threads: 2
        resources:
            mem_mb=8000,
            runtime=6 * 60,
            gpu=1,
        script:
            "../workflow_scripts/train_audio_lstm.py"

    rule:
        name:
            f"inception_lstm{mode}"
        input:
            manifest="results/manifest.tsv",
            maps=per_clip("results/audio/maps/{clip}.h5", with_audio=True),
        output:
            checkpoint=f"{models_dir}/inception_lstm/checkpoint.pt",
            train_log=f"{models_dir}/inception_lstm/train_log.csv",
            curve=report(
                f"{models_dir}/inception_lstm/curve.png",
                caption="../report/models_curve.rst",
                category="Models",
                subcategory=f"inception_lstm{mode}",
            ),
            predictions=f"{predictions_dir}/inception_lstm.tsv",
            **({"metrics": metrics_pattern.format(model="inception_lstm")} if metrics_pattern else {}),
        log:
            f"results/logs/inception_lstm{mode}/train.log",
        benchmark:
            f"results/benchmarks/inception_lstm{mode}/train.tsv"
        params:
            model=config["models"]["inception_lstm"],
            training=config["models"]["training"],
            train_splits=train_splits,
        conda:
            "../envs/models.yaml"
        threads: 2
        resources:
            mem_mb=8000,
            runtime=12 * 60,
            gpu=1,
        script:
            "../workflow_scripts/train_inception_lstm.py"


FINAL_TARGETS.extend(
    expand("results/predictions/{model}.tsv", model=MODELS)
    + expand("results/metrics/{model}.json", model=MODELS)
)
