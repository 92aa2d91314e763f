# Config validation, the clip manifest and every input function. Rule files stay declarations.
import os
from functools import lru_cache

from snakemake.utils import validate

from avemotion import datasets
from avemotion.artifacts import read_manifest
from avemotion.config import check_pretraining_files
from avemotion.constants import FACE_TRACKS
from avemotion.shards import SHARD_PATTERN, clip_shard, clips_by_shard

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
    track="|".join(FACE_TRACKS),
    shard=SHARD_PATTERN,


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


@lru_cache(maxsize=8)
def _clips_by_shard(path, mtime_ns, n_shards):
    return clips_by_shard(_manifest_rows(path, mtime_ns), n_shards)


def manifest_shards():
    """{shard: clip ids} of the manifest's clips (shards that hold no clip have no jobs)."""
    path = checkpoints.manifest.get().output.manifest
    return _clips_by_shard(path, os.stat(path).st_mtime_ns, config["shards"])


def shard_rows(wildcards):
    """The shard's manifest rows by clip id (params of `media`: adding a clip, or a clip's row
    changing, reruns its shard and no other)."""
    rows = manifest_rows()
    return {clip: rows[clip] for clip in manifest_shards()[wildcards.shard]}


def shard_videos(wildcards):
    """{clip_id: video path} of the shard's clips (params of `faces`)."""
    return {clip: row["path"] for clip, row in shard_rows(wildcards).items()}


def shard_clip_ids(wildcards):
    return manifest_shards()[wildcards.shard]


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
    if wildcards.shard not in manifest_shards():
        raise ValueError(f"shard {wildcards.shard} holds no clip of the manifest")
    return f"results/media/shard_{wildcards.shard}.tsv"


def shard_video_files(wildcards):
    return list(shard_videos(wildcards).values())


def per_shard(pattern):
    """Input function: `pattern` (a shard table) expanded over every shard that holds clips. Rules
    take the tables, not the shard folders: a table is written last, so a shard job killed mid-way
    is planned again (Snakemake checks only the outputs that are asked for, and does not check its
    incomplete markers on jobs behind the manifest checkpoint)."""

    def expand_over_shards(wildcards):
        return expand(pattern, shard=list(manifest_shards()), **wildcards)

    return expand_over_shards


def per_clip(pattern, with_audio=False):
    """Params function: `pattern` (a file in a shard folder) for every clip of the manifest, with the
    clip's shard filled in. Rules take the shard tables as input (per_shard) and these as params.
    """

    def expand_over_clips(wildcards):
        n_shards = config["shards"]
        return [
            pattern.format(clip=clip, shard=clip_shard(clip, n_shards), **wildcards)
            for clip in manifest_clip_ids(with_audio=with_audio)
        ]

    return expand_over_clips


def pretraining_files(wildcards):
    """The configured VGG-Face weights and fer2013.csv as the VGG-LSTMs' inputs, so that an edit of
    either file reruns them."""
    block = config["models"]["vgg_lstm"]
    return [path for path in (block["vgg_face_weights"], block["fer2013_csv"]) if path]


def vgg_lstm_name(wildcards):
    return f"vgg_lstm_{wildcards.track}"
