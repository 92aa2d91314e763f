"""Where the per-clip stages' artifacts live under ``results/``: the one source of the rules' path
patterns (``rules/*.smk``) and of the paths the package reads and writes.

A shard job of a per-clip stage writes a folder of per-clip files, ``<stage dir>/shard_<shard>/``,
and, last, its shard table ``<stage dir>/shard_<shard>.tsv`` (:mod:`avemotion.shards`). A clip's
file in that folder is ``<clip_id><suffix>``. Patterns keep Snakemake's wildcards (``{corpus}``,
``{shard}``, ``{clip}``, ``{track}``) for the rules; :meth:`ClipArtifact.path` fills them in for the
package.

``{corpus}`` is "" for the clips the models train on (``results/media/...``) and
``evaluate/<name>/`` for an evaluation dataset's (``results/evaluate/<name>/media/...``): the same
stages, in a folder of their own, so that its clips never change a training job's inputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .shards import clip_shard

RESULTS = "results"
# the {corpus} of an evaluation dataset (docs/datasets.md#cross-corpus-evaluation)
EVALUATE_DIR = "evaluate"
CORPUS_PATTERN = rf"|{EVALUATE_DIR}/[A-Za-z0-9][A-Za-z0-9_-]*/"


def evaluation_corpus(name: str) -> str:
    """The ``{corpus}`` wildcard value of the evaluation dataset ``name``."""
    return f"{EVALUATE_DIR}/{name}/"


def evaluation_name(corpus: str) -> str:
    """The evaluation dataset's name in a ``{corpus}`` value ("" for the training clips' "")."""
    return corpus[len(EVALUATE_DIR) + 1:-1] if corpus else ""


def corpus_dir(corpus: str) -> str:
    """The results folder of a corpus: ``results/`` or ``results/evaluate/<name>/``."""
    return f"{RESULTS}/{corpus}"


@dataclass(frozen=True)
class ClipArtifact:
    """One kind of per-clip file written by a shard job: ``<stage_dir>/shard_<shard>/<clip_id><suffix>``."""

    stage_dir: str  # pattern relative to the working directory, e.g. "results/faces/{track}"
    suffix: str

    @property
    def shard_dir(self) -> str:
        """The shard folder's pattern (a rule's ``directory()`` output)."""
        return f"{self.stage_dir}/shard_{{shard}}"

    @property
    def pattern(self) -> str:
        """A clip's file as a pattern with ``{shard}`` and ``{clip}`` (and the stage's own wildcards)."""
        return f"{self.shard_dir}/{{clip}}{self.suffix}"

    def in_folder(self, folder: str | Path, clip_id: str) -> Path:
        """A clip's file in a given folder (a shard folder, or any folder of one clip's artifacts)."""
        return Path(folder) / f"{clip_id}{self.suffix}"

    def path(self, clip_id: str, n_shards: int, root: str | Path = "", corpus: str = "", **wildcards: str) -> Path:
        """A clip's file under ``root`` (a working directory), its shard from :func:`clip_shard`."""
        shard = clip_shard(clip_id, n_shards)
        return Path(root) / self.pattern.format(clip=clip_id, shard=shard, corpus=corpus, **wildcards)


def shard_table(stage_dir: str) -> str:
    """The pattern of a stage's shard table (written last by each shard job)."""
    return f"{stage_dir}/shard_{{shard}}.tsv"


MEDIA_DIR = f"{RESULTS}/{{corpus}}media"
FACES_DIR = f"{RESULTS}/{{corpus}}faces/{{track}}"
AUDIO_DIR = f"{RESULTS}/{{corpus}}audio"

TIMELINE = ClipArtifact(MEDIA_DIR, ".timeline.json")
WAV = ClipArtifact(MEDIA_DIR, ".wav")
FACE_STACK = ClipArtifact(FACES_DIR, ".h5")
IS10 = ClipArtifact(f"{AUDIO_DIR}/is10", ".h5")
SHORTTERM = ClipArtifact(f"{AUDIO_DIR}/shortterm", ".h5")
MAPS = ClipArtifact(f"{AUDIO_DIR}/maps", ".h5")
# the audio stage's three artifacts by feature name (config `audio:` sub-blocks, index columns)
AUDIO_FEATURES: dict[str, ClipArtifact] = {"is10": IS10, "shortterm": SHORTTERM, "maps": MAPS}

MEDIA_TABLE = shard_table(MEDIA_DIR)
FACES_TABLE = shard_table(FACES_DIR)
AUDIO_TABLE = shard_table(AUDIO_DIR)


def model_file(model: str, refit: bool = False, results_dir: str | Path = RESULTS) -> Path:
    """A trained model's file, as the model rules write it: ``results/models/<model>/checkpoint.pt``;
    the refit twin's (trained on train + val) in ``models_refit/``."""
    return Path(results_dir) / ("models_refit" if refit else "models") / model / "checkpoint.pt"
