# Config validation, the clip manifest, the default target and every input and params function.
# Rule files stay declarations.
import os
from functools import lru_cache

from snakemake.utils import validate

from avemotion import datasets, layout
from avemotion.artifacts import read_manifest
from avemotion.config import (
    check_datasets,
    check_pretraining_files,
    evaluation_dataset,
    evaluation_datasets,
    paper_deviations,
    result_settings,
    track_settings,
    training_datasets,
    training_settings,
)
from avemotion.constants import FACE_TRACKS, FUSION, MODELS, SPLITS
from avemotion.shards import SHARD_PATTERN, clips_by_shard

validate(config, schema="../schemas/config.schema.yaml")
# A missing or unreadable VGG-Face file / fer2013.csv, a VGG-Face file without fc6/fc7 or, on AFEW,
# no organisers' faces for track B stops the run here, before any job (the paper config requires
# them: without them the run would silently be another experiment).
check_pretraining_files(config)
# An evaluation dataset that is also a training one, or two datasets on one path or of one name,
# stops the run here too.
check_datasets(config)


def _sorted_keys(value):
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


# Snakemake compares a job's params by their text: with sorted keys, reordering config.yaml
# (or editing its comments) reruns nothing.
_canonical_config = _sorted_keys(config)
config.clear()
config.update(_canonical_config)


wildcard_constraints:
    track="|".join(FACE_TRACKS),
    shard=SHARD_PATTERN,
    # "" for a model trained on train, "_refit" for its twin retrained on train+val (paper 3.2)
    fit="|_refit",
    # "" for the training datasets' clips, "evaluate/<name>/" for an evaluation dataset's (layout.py)
    corpus=layout.CORPUS_PATTERN,
    dataset="[A-Za-z0-9][A-Za-z0-9_-]*",
    model="|".join(MODELS),


def get_final_output():
    """The default target's inputs: every stage's index and QC, every model's predictions and metrics,
    the fusion, the EmotiW submission, the report, the bundle of the trained network and, for each
    evaluation dataset, its indices and predictions.
    """
    return (
        ["results/manifest.tsv", "results/quarantine.tsv", "results/media/index.tsv"]
        + expand("results/faces/{track}/index.tsv", track=FACE_TRACKS)
        + expand("results/faces/qc/montage_{split}.png", split=SPLITS)
        + ["results/faces/qc/detection.tsv", "results/audio/index.tsv"]
        + expand("results/predictions/{model}.tsv", model=MODELS)
        + expand("results/metrics/{model}.json", model=MODELS + (FUSION,))
        + ["results/submission/submission.zip", "results/report/summary.md"]
        + ["results/bundle/model.zip"]
        + evaluation_outputs()
    )


def evaluation_names():
    return [entry["name"] for entry in evaluation_datasets(config)]


def evaluation_outputs():
    """Every evaluation dataset's stage indices, face QC and predictions (each model's and the
    fused)."""
    outputs = []
    for name in evaluation_names():
        folder = evaluation_folder(name)
        outputs += [f"{folder}manifest.tsv", f"{folder}quarantine.tsv"]
        outputs += list(evaluation_stage_indices(name).values())
        outputs += expand(f"{folder}faces/qc/montage_{{split}}.png", split=SPLITS)
        outputs += [f"{folder}faces/qc/detection.tsv"]
        outputs += list(evaluation_predictions(name, MODELS + (FUSION,)).values())
    return outputs


def evaluation_folder(name):
    """The results folder of the evaluation dataset `name`: results/evaluate/<name>/."""
    return layout.corpus_dir(layout.evaluation_corpus(name))


def evaluation_stage_indices(name):
    """{stage: index table} of the evaluation dataset's per-clip stages."""
    folder = evaluation_folder(name)
    indices = {"media": f"{folder}media/index.tsv"}
    for track in FACE_TRACKS:
        indices[f"faces_{track}"] = f"{folder}faces/{track}/index.tsv"
    indices["audio"] = f"{folder}audio/index.tsv"
    return indices


def evaluation_predictions(name, models):
    """{model: its predictions on the evaluation dataset} of `models`, in their order."""
    folder = evaluation_folder(name)
    return {model: f"{folder}predictions/{model}.tsv" for model in models}


def corpus_datasets(corpus):
    """The dataset entries whose clips make up a corpus: the training datasets for "", else the one
    evaluation dataset of "evaluate/<name>/"."""
    if not corpus:
        return training_datasets(config)
    return [evaluation_dataset(config, layout.evaluation_name(corpus))]


def dataset_inputs(wildcards):
    """The files a corpus's manifest is built from: the demo corpus list or each dataset's clips
    (listed at parse time, so that adding a clip changes the manifest job's input set and reruns it).
    """
    files = []
    for entry in corpus_datasets(wildcards.corpus):
        if entry["kind"] == "demo":
            files.append("results/demo_corpus/clips.tsv")
        else:
            files += datasets.list_dataset_inputs(entry)
    return files


def manifest_datasets(wildcards):
    """params of the manifest: `dataset:` as configured (one entry or the pooled list), or the
    evaluation dataset's entry; only its own entry, so that editing one dataset reruns its corpus only.
    """
    if not wildcards.corpus:
        return config["dataset"]
    return corpus_datasets(wildcards.corpus)[0]


@lru_cache(maxsize=32)
def _manifest_rows(path, mtime_ns):
    return {row["clip_id"]: row for row in read_manifest(path)}


def manifest_rows(corpus=""):
    """A corpus's manifest as {clip_id: row}; waits for its manifest checkpoint."""
    path = checkpoints.manifest.get(corpus=corpus).output.manifest
    return _manifest_rows(path, os.stat(path).st_mtime_ns)


def manifest_clip_ids(corpus="", with_audio=False):
    rows = manifest_rows(corpus)
    if with_audio:
        return sorted(c for c, row in rows.items() if row["has_audio"] == "true")
    return sorted(rows)


@lru_cache(maxsize=32)
def _clips_by_shard(path, mtime_ns, n_shards):
    return clips_by_shard(_manifest_rows(path, mtime_ns), n_shards)


def manifest_shards(corpus=""):
    """{shard: clip ids} of a corpus's clips (shards that hold no clip have no jobs)."""
    path = checkpoints.manifest.get(corpus=corpus).output.manifest
    return _clips_by_shard(path, os.stat(path).st_mtime_ns, config["shards"])


def shard_rows(wildcards):
    """The shard's manifest rows by clip id (params of `media`: adding a clip, or a clip's row
    changing, reruns its shard and no other)."""
    rows = manifest_rows(wildcards.corpus)
    return {
        clip: rows[clip] for clip in manifest_shards(wildcards.corpus)[wildcards.shard]
    }


def shard_videos(wildcards):
    """{clip_id: video path} of the shard's clips (params of `faces`)."""
    return {clip: row["path"] for clip, row in shard_rows(wildcards).items()}


def shard_video_files(wildcards):
    return list(shard_videos(wildcards).values())


def shard_clip_ids(wildcards):
    return manifest_shards(wildcards.corpus)[wildcards.shard]


def shard_media_files(wildcards):
    """The source files of the shard's clips: each clip, and its separate audio file where the
    manifest pairs one (`audio_path`: RAVDESS 03 .wav beside a video-only 02 file, CREMA-D AudioWAV).
    """
    rows = shard_rows(wildcards).values()
    return [row["path"] for row in rows] + [
        row["audio_path"] for row in rows if row.get("audio_path")
    ]


def shard_media_table(wildcards):
    """The shard table of the shard's media job, through the manifest checkpoint: a cluster job
    builds its own DAG, and must meet the checkpoint in an input function before it evaluates the
    shard's params."""
    if wildcards.shard not in manifest_shards(wildcards.corpus):
        raise ValueError(
            f"shard {wildcards.shard} holds no clip of the manifest of results/{wildcards.corpus}"
        )
    return layout.MEDIA_TABLE.format(corpus=wildcards.corpus, shard=wildcards.shard)


def per_shard(pattern, **fixed):
    """Input function: `pattern` (a shard table) expanded over every shard that holds clips (and over
    `fixed` wildcard values, e.g. every face track). Rules take the tables, not the shard folders: a
    table is written last, so a shard job killed mid-way is planned again (Snakemake checks only the
    outputs that are asked for, and does not check its incomplete markers on jobs behind the
    manifest checkpoint)."""

    def expand_over_shards(wildcards):
        values = {"corpus": "", **dict(wildcards.items()), **fixed}
        shards = list(manifest_shards(values["corpus"]))
        return expand(pattern, shard=shards, **values)

    return expand_over_shards


def per_clip(artifact, with_audio=False):
    """Params function: {clip_id: path} of `artifact` (an avemotion.layout.ClipArtifact) for every
    clip of the manifest (with audio only: the clips that have an audio stream). Rules take the shard
    tables as input (per_shard) and these as params."""

    def clip_files(wildcards):
        values = dict(wildcards.items())
        corpus = values.pop("corpus", "")
        n_shards = config["shards"]
        return {
            clip: str(artifact.path(clip, n_shards, corpus=corpus, **values))
            for clip in manifest_clip_ids(corpus, with_audio=with_audio)
        }

    return clip_files


def face_stacks_by_track(wildcards):
    """{track: {clip_id: face stack}} of the corpus over every face track (params of `faces_qc`)."""
    return {
        track: per_clip(layout.FACE_STACK)({"corpus": wildcards.corpus, "track": track})
        for track in FACE_TRACKS
    }


def track_face_settings(wildcards):
    """Only the track's own face settings (params of `faces`: editing track A's block reruns track
    A's jobs only). An evaluation dataset has no organisers' face crops (`dataset_faces_dir` holds the
    training AFEW's): its track finds faces with the track's `method`."""
    faces = config["faces"]
    block = f"track_{wildcards.track}"
    without_crops = {**faces, block: {**faces[block], "dataset_faces_dir": ""}}
    if wildcards.corpus:
        return track_settings(without_crops, wildcards.track)
    settings = track_settings(faces, wildcards.track)
    if settings["method_settings"]["method"] == "dataset" and datasets_without_crops():
        # a pooled training set: the clips of its other datasets find faces with the track's method
        own = track_settings(without_crops, wildcards.track)["method_settings"]
        settings["method_settings"]["without_crops"] = own
    return settings


def datasets_without_crops():
    """The training datasets that `faces.track_*.dataset_faces_dir` does not cover: in a pool with an
    AFEW dataset the crops are its organisers', so every other dataset; none otherwise (the crops
    are the one dataset's own)."""
    trained = training_datasets(config)
    if len(trained) < 2 or not any(entry["kind"] == "afew" for entry in trained):
        return []
    return [entry["name"] for entry in trained if entry["kind"] != "afew"]


def shard_crop_clips(wildcards):
    """params of `faces`: {clip id: crop folder} of the shard's clips that have the dataset's face
    crops (of an AFEW dataset), where a pooled training set also holds clips without them; None:
    every clip, or no crops read."""
    others = datasets_without_crops()
    if wildcards.corpus or not others:
        return None
    if not config["faces"][f"track_{wildcards.track}"]["dataset_faces_dir"]:
        return None
    return datasets.crop_folders(shard_rows(wildcards), others)


def pretraining_files(wildcards):
    """The configured VGG-Face weights and fer2013.csv as the VGG-LSTMs' inputs, so that an edit of
    either file reruns them."""
    block = config["models"]["vgg_lstm"]
    return [path for path in (block["vgg_face_weights"], block["fer2013_csv"]) if path]


def model_settings(model):
    """The result settings of `models.<model>` (a model rule's params; docs/configuration.md)."""
    return result_settings(config, f"models.{model}")


def deep_training_settings():
    """The deep models' result settings of `models.training`: the seed and the device a job will use
    (a result setting: bf16 on a GPU, fp32 on a CPU). The loader and resume settings are run settings
    the jobs read themselves."""
    return training_settings(config)


def svm_training_settings():
    """All the SVM takes from `models.training`: the seed of its cross-validation folds."""
    return {"seed": config["models"]["training"]["seed"]}


def vgg_lstm_name(wildcards):
    return f"vgg_lstm_{wildcards.track}"


def train_splits(wildcards):
    """The splits a model trains on: train, or train+val for its refit twin (paper 3.2)."""
    return ["train", "val"] if wildcards.fit == "_refit" else ["train"]


def fusion_predictions(wildcards):
    """One named input per model the fusion combines."""
    return {
        model: f"results/predictions/{model}.tsv"
        for model in config["fusion"]["models"]
    }


def fusion_refit_predictions(wildcards):
    """The refit models' test rows, when the fusion refits (fusion.refit)."""
    if not config["fusion"]["refit"]:
        return []
    return expand(
        "results/predictions_refit/{model}.tsv", model=config["fusion"]["models"]
    )


def report_models():
    """The models the report tables list: the fused ones, then the fusion."""
    return list(config["fusion"]["models"]) + [FUSION]


def bundle_checkpoints(wildcards):
    """The model file of each fused model: the refit twin's when the fusion refits (its test
    predictions are the fused ones, paper 3.2)."""
    refit = config["fusion"]["refit"]
    return {
        model: str(layout.model_file(model, refit))
        for model in config["fusion"]["models"]
    }


def bundle_settings(wildcards):
    """What decides how a clip becomes model input, and what the models were trained on: result
    settings only, so that a run setting's edit does not rebuild the bundle."""
    return {
        "media": result_settings(config, "media"),
        # each track's settings as its faces jobs get them: a key no track reads is not in the bundle
        "faces": {
            f"track_{track}": track_settings(config["faces"], track)
            for track in FACE_TRACKS
        },
        "audio": result_settings(config, "audio"),
        # one dataset's settings, or the pooled list's (every dataset key is a result setting)
        "dataset": config["dataset"],
    }


def report_stage_indices(wildcards):
    """Each per-clip stage's index, named `index_<stage>` (the report's clips.tsv columns)."""
    indices = {"index_media": "results/media/index.tsv"}
    for track in FACE_TRACKS:
        indices[f"index_faces_{track}"] = f"results/faces/{track}/index.tsv"
    indices["index_audio"] = "results/audio/index.tsv"
    return indices


def report_confusion_figures():
    """The report's confusion heatmaps, one per model in report_models() order."""
    figures = []
    for model in report_models():
        figure = report(
            f"results/report/confusion_{model}.png",
            caption="../report/report_confusion.rst",
            category="Results",
            subcategory="Confusion matrices",
            labels={"model": model},
        )
        figures.append(figure)
    return figures


def vgg_lstm_init(wildcards):
    """How the VGG-LSTMs were initialised: summary.md opens with a warning when not as in paper 2.1."""
    block = config["models"]["vgg_lstm"]
    return {
        key: block[key] for key in ("vgg_face_weights", "fer2013_csv", "fer_iterations")
    }


def paper_deviation_lines(wildcards):
    """Every setting of this run that differs from the paper's (avemotion.constants.PAPER_CONFIG)."""
    return [str(deviation) for deviation in paper_deviations(config)]


# Cross-corpus evaluation (rules/evaluate.smk): each model's input artifact on an evaluation dataset,
# as (artifact, its shard table, clips with audio only, fixed wildcards).
MODEL_INPUTS = {
    "vgg_lstm_a": (layout.FACE_STACK, layout.FACES_TABLE, False, {"track": "a"}),
    "vgg_lstm_b": (layout.FACE_STACK, layout.FACES_TABLE, False, {"track": "b"}),
    "audio_svm": (layout.IS10, layout.AUDIO_TABLE, True, {}),
    "audio_lstm": (layout.SHORTTERM, layout.AUDIO_TABLE, True, {}),
    "inception_lstm": (layout.MAPS, layout.AUDIO_TABLE, True, {}),
}


def evaluation_checkpoint(wildcards):
    """The model an evaluation dataset is predicted with: the refit twin (train+val) when the fusion
    refits and fuses this model, as on the training dataset's test split (paper 3.2)."""
    model = wildcards.model
    refit = config["fusion"]["refit"] and model in config["fusion"]["models"]
    return str(layout.model_file(model, refit))


def evaluation_device(wildcards):
    """The device a model predicts an evaluation dataset on: the one the deep models train on (bf16
    on a GPU, fp32 on a CPU), as for its own val and test rows, so that the cross-corpus drop compares
    like with like; the CPU for the SVM."""
    if wildcards.model == "audio_svm":
        return "cpu"
    return deep_training_settings()["device"]


def evaluation_gpus(wildcards):
    return int(evaluation_device(wildcards) == "cuda")


def evaluation_tables(wildcards):
    """The shard tables of the model's input stage on the evaluation dataset."""
    _, table, _, fixed = MODEL_INPUTS[wildcards.model]
    corpus = layout.evaluation_corpus(wildcards.dataset)
    return per_shard(table, corpus=corpus, **fixed)(wildcards)


def evaluation_clip_files(wildcards):
    """{clip_id: the model's input artifact} of every clip of the evaluation dataset."""
    artifact, _, with_audio, fixed = MODEL_INPUTS[wildcards.model]
    corpus = layout.evaluation_corpus(wildcards.dataset)
    return per_clip(artifact, with_audio=with_audio)({"corpus": corpus, **fixed})


def evaluation_fusion_predictions(wildcards):
    """One named input per fused model: its predictions on the evaluation dataset."""
    return evaluation_predictions(wildcards.dataset, config["fusion"]["models"])


def report_datasets():
    """Each dataset of the run with its role and how its labels map onto the paper's classes."""
    described = []
    for role, entries in (
        ("train", training_datasets(config)),
        ("evaluate", evaluation_datasets(config)),
    ):
        for entry in entries:
            described.append(
                {
                    "name": entry["name"],
                    "kind": entry["kind"],
                    "role": role,
                    "path": entry["path"],
                    "label_mapping": datasets.label_mapping(entry),
                }
            )
    return described


def report_evaluations(wildcards):
    """{name: the evaluation dataset's manifest, quarantine, stage indices and predictions}, the
    prediction tables in report_models() order."""
    evaluations = {}
    for name in evaluation_names():
        folder = evaluation_folder(name)
        evaluations[name] = {
            "manifest": f"{folder}manifest.tsv",
            "quarantine": f"{folder}quarantine.tsv",
            "stage_indices": evaluation_stage_indices(name),
            "predictions": evaluation_predictions(name, report_models()),
        }
    return evaluations


def report_evaluation_files(wildcards):
    """Every file report_evaluations names, as the report's inputs."""
    files = []
    for evaluation in report_evaluations(wildcards).values():
        files += [evaluation["manifest"], evaluation["quarantine"]]
        files += list(evaluation["stage_indices"].values())
        files += list(evaluation["predictions"].values())
    return files


def submission_datasets():
    """The datasets whose test clips make the EmotiW submission: the AFEW ones when the models train
    on AFEW (pooled with others or not), else [] (every test clip)."""
    return [
        entry["name"] for entry in training_datasets(config) if entry["kind"] == "afew"
    ]
