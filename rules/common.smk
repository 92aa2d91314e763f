# Config validation, the clip manifest and every input function. Rule files stay declarations.
import os
from functools import lru_cache

from snakemake.utils import validate

from avemotion import datasets
from avemotion.artifacts import read_manifest
from avemotion.config import check_pretraining_files
from avemotion.constants import FACE_TRACKS

validate(config, schema="../schemas/config.schema.yaml")
# A missing or unreadable VGG-Face file / fer2013.csv stops the run here, before any job (the paper
# config requires them: without them the run would silently be another experiment).
check_pretraining_files(config)


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
    clip=datasets.CLIP_ID_PATTERN,
    track="|".join(FACE_TRACKS),


# Stage files append the aggregate files that `rule all` asks for.
FINAL_TARGETS = ["results/manifest.tsv", "results/quarantine.tsv"]


def get_final_output(wildcards):
    return FINAL_TARGETS


def dataset_inputs(wildcards):
    """The files the manifest is built from: the demo corpus list or the dataset's clips (listed at
    parse time, so that adding a clip changes the manifest job's input set and reruns it).
    """
    if config["dataset"]["kind"] == "demo":
        return ["results/demo_corpus/clips.tsv"]
    return datasets.list_dataset_inputs(config["dataset"])


@lru_cache(maxsize=8)
def _manifest_rows(path, mtime_ns):
    return {row["clip_id"]: row for row in read_manifest(path)}


def manifest_rows():
    """The manifest as {clip_id: row}; waits for the manifest checkpoint."""
    path = checkpoints.manifest.get().output.manifest
    return _manifest_rows(path, os.stat(path).st_mtime_ns)


def manifest_clip_ids(with_audio=False):
    rows = manifest_rows()
    if with_audio:
        return sorted(c for c, row in rows.items() if row["has_audio"] == "true")
    return sorted(rows)


def manifest_row(wildcards):
    """The clip's manifest row (as params: a manifest change for one clip reruns only that clip)."""
    return manifest_rows()[wildcards.clip]


def clip_path(wildcards):
    return manifest_rows()[wildcards.clip]["path"]


def clip_audio_path(wildcards):
    """The clip's separate audio file (manifest `audio_path`: RAVDESS 03 .wav beside a video-only
    02 file, CREMA-D AudioWAV), or nothing when the audio is in the clip itself."""
    audio = manifest_rows()[wildcards.clip].get("audio_path", "")
    return [audio] if audio else []


def per_clip(pattern, with_audio=False):
    """Input function: `pattern` expanded over every clip of the manifest."""

    def expand_over_clips(wildcards):
        return expand(
            pattern, clip=manifest_clip_ids(with_audio=with_audio), **wildcards
        )

    return expand_over_clips


def pretraining_files(wildcards):
    """The configured VGG-Face weights and fer2013.csv as the VGG-LSTMs' inputs, so that an edit of
    either file reruns them."""
    block = config["models"]["vgg_lstm"]
    return [path for path in (block["vgg_face_weights"], block["fer2013_csv"]) if path]


def vgg_lstm_name(wildcards):
    return f"vgg_lstm_{wildcards.track}"
