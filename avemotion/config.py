"""Loading config files the way Snakemake does (later files merged recursively over earlier ones,
then validated against schemas/config.schema.yaml), and the checks a config gets before any job
runs: how it differs from the paper, and whether the pretraining files it names can be used."""
from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = REPO / "config.yaml"


SETTING_CLASSES: tuple[str, ...] = ("result", "run")


def setting_classes(schema_path: str | os.PathLike = SCHEMA) -> dict[str, str | None]:
    """{dotted key: "result" | "run" | None} for every key the schema defines, blocks included: a key's
    ``setting`` annotation, else its nearest enclosing block's (None: not classified)."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    classes: dict[str, str | None] = {}

    def walk(node: Mapping, prefix: str, inherited: str | None) -> None:
        for key, child in node.get("properties", {}).items():
            dotted = f"{prefix}{key}"
            setting = child.get("setting", inherited)
            if setting not in (*SETTING_CLASSES, None):
                raise ValueError(f"{schema_path}: {dotted} has setting {setting!r}, not one of {SETTING_CLASSES}")
            classes[dotted] = setting
            walk(child, f"{dotted}.", setting)

    walk(schema, "", schema.get("setting"))
    return classes


@lru_cache(maxsize=4)
def run_settings(schema_path: str | os.PathLike = SCHEMA) -> tuple[str, ...]:
    """The dotted keys of the run settings: how and where jobs run, never what they write."""
    return tuple(key for key, setting in setting_classes(schema_path).items() if setting == "run")


def without_run_settings(block: Mapping, dotted_key: str) -> dict:
    """A copy of ``block`` (the config block at ``dotted_key``) without its run settings."""
    run = set(run_settings())

    def strip(block: Mapping, prefix: str) -> dict:
        return {key: strip(value, f"{prefix}{key}.") if isinstance(value, Mapping) else copy.deepcopy(value)
                for key, value in block.items() if f"{prefix}{key}" not in run}

    return strip(block, f"{dotted_key}.")


def result_settings(config: Mapping, dotted_key: str) -> dict:
    """The config block at ``dotted_key`` without its run settings: what a rule's params may carry (a
    run setting in params would rerun the rule when it changes)."""
    return without_run_settings(config_value(dict(config), dotted_key), dotted_key)


def with_run_settings(result_block: Mapping, config: Mapping, dotted_key: str) -> dict:
    """A job's settings of block ``dotted_key``: the result settings its rule's params carry, plus the
    block's own run settings read from the config the job runs with (so they are no rerun trigger)."""
    prefix = f"{dotted_key}."
    block = dict(result_block)
    for key in run_settings():
        name = key[len(prefix):]
        if key.startswith(prefix) and "." not in name:
            block[name] = config_value(dict(config), key)
    return block


def cuda_visible() -> bool:
    """Whether this machine shows torch a CUDA GPU, told without importing torch (too slow for every
    Snakemake start): NVIDIA's driver lists its GPUs under /proc/driver/nvidia/gpus, and
    CUDA_VISIBLE_DEVICES may hide them."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


def training_device(preference: str) -> str:
    """The device the deep models train on: ``cuda`` or ``cpu`` as configured; for ``auto``, CUDA
    where :func:`cuda_visible`. A result setting: bf16 on a GPU and fp32 on a CPU give other weights
    (docs/configuration.md)."""
    if preference == "auto":
        return "cuda" if cuda_visible() else "cpu"
    return preference


def training_settings(config: Mapping) -> dict:
    """The result settings of ``models.training`` as the deep models' params: the seed and the
    device a job will use (``auto`` resolved)."""
    settings = result_settings(config, "models.training")
    settings["device"] = training_device(settings["device"])
    return settings


def merge_config(base: dict, overrides: dict) -> dict:
    """Recursively merge `overrides` into a copy of `base` (dicts merge, everything else replaces)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(*paths: str | os.PathLike, validate: bool = True) -> dict:
    """config.yaml with each of `paths` merged over it, validated."""
    config: dict = {}
    for path in (DEFAULT_CONFIG, *paths):
        config = merge_config(config, yaml.safe_load(Path(path).read_text()) or {})
    if validate:
        from snakemake.utils import validate as validate_against_schema

        validate_against_schema(config, schema=str(SCHEMA))
    return config


_REQUIRED = object()


def config_value(config: dict, dotted_key: str, default: object = _REQUIRED) -> object:
    """The value at a dotted key path such as ``models.vgg_lstm.input_size`` (KeyError if absent and
    no default is given)."""
    value: object = config
    for part in dotted_key.split("."):
        if not isinstance(value, dict) or part not in value:
            if default is _REQUIRED:
                raise KeyError(dotted_key)
            return default
        value = value[part]
    return value


@dataclass(frozen=True)
class PaperDeviation:
    """One config value that differs from the paper's (avemotion.constants.PAPER_CONFIG)."""

    key: str
    value: object
    paper_value: object
    section: str

    def __str__(self) -> str:
        value = "not set" if self.value is None else repr(self.value)
        return f"{self.key}: {value}, paper {self.paper_value!r} ({self.section})"


def _same_setting(value: object, paper_value: object) -> bool:
    if isinstance(paper_value, bool) or isinstance(value, bool):
        return value is paper_value
    if isinstance(paper_value, (int, float)) and isinstance(value, (int, float)):
        return math.isclose(float(value), float(paper_value), rel_tol=1e-9, abs_tol=0.0)
    return value == paper_value


def dataset_name(entry: Mapping) -> str:
    """A dataset's name: its `name`, else its kind (the manifest's `dataset` column, the folder of an
    evaluation dataset's results)."""
    return str(entry.get("name") or entry["kind"])


def _named(entries: Sequence[Mapping]) -> list[dict]:
    return [{**entry, "name": dataset_name(entry)} for entry in entries]


def training_datasets(config: Mapping) -> list[dict]:
    """The datasets the models train on (`dataset:`, one or a pooled list), each with its `name`."""
    value = config["dataset"]
    return _named([value] if isinstance(value, Mapping) else list(value))


def evaluation_datasets(config: Mapping) -> list[dict]:
    """The datasets only predicted and scored (`evaluate:`), each with its `name`."""
    return _named(list(config.get("evaluate") or []))


def evaluation_dataset(config: Mapping, name: str) -> dict:
    for entry in evaluation_datasets(config):
        if entry["name"] == name:
            return entry
    raise KeyError(f"no evaluation dataset named {name!r} in evaluate:")


def _dataset_keys(config: Mapping) -> list[tuple[str, dict]]:
    """(where in the config, entry) of every training and evaluation dataset."""
    training = training_datasets(config)
    where = ["dataset"] if isinstance(config["dataset"], Mapping) else [f"dataset[{i}]" for i in range(len(training))]
    evaluation = evaluation_datasets(config)
    return list(zip(where, training)) + [(f"evaluate[{i}]", entry) for i, entry in enumerate(evaluation)]


def _describe(key: str, entry: Mapping) -> str:
    return f"{key} ({entry['kind']} {entry['path']!r})" if entry.get("path") else f"{key} ({entry['kind']})"


def dataset_problems(config: Mapping) -> list[str]:
    """What is wrong with the roles of `dataset:` and `evaluate:`, one message each: an evaluation
    dataset that is also a training one, two datasets on one path, two datasets of one name."""
    problems = []
    by_path: dict[str, tuple[str, dict]] = {}
    by_name: dict[str, str] = {}
    for key, entry in _dataset_keys(config):
        path = os.path.realpath(entry["path"]) if entry.get("path") else ""
        if path in by_path:
            first_key, first = by_path[path]
            if key.startswith("evaluate") and first_key.startswith("dataset") and first["kind"] == entry["kind"]:
                problems.append(f"{_describe(key, entry)} is also a training dataset ({first_key}): a dataset is "
                                f"trained on or evaluated, not both (pool it into dataset:, or take it out of it)")
            else:
                problems.append(f"{_describe(first_key, first)} and {_describe(key, entry)} have the same path: "
                                f"each dataset needs its own")
            continue
        if path:
            by_path[path] = (key, entry)
        if entry["name"] in by_name:
            problems.append(f"{by_name[entry['name']]} and {key} are both named {entry['name']!r} (a dataset's "
                            f"name defaults to its kind): give each a distinct `name`")
            continue
        by_name[entry["name"]] = key
    return problems


class DatasetConfigError(ValueError):
    """`dataset:` and `evaluate:` name datasets in roles that cannot be run."""


def check_datasets(config: Mapping) -> None:
    """Stop before any job runs when the datasets' roles clash (`dataset_problems`)."""
    problems = dataset_problems(config)
    if problems:
        raise DatasetConfigError("cannot run the datasets as configured:\n  - " + "\n  - ".join(problems))


ORGANISER_FACES_KEY = "faces.track_b.dataset_faces_dir"
ORGANISER_FACES = "the organisers' face crops"
ORGANISER_FACES_SECTION = "3.2 / Table 2: the second VGG-LSTM trains on the faces provided by the challenge organisers"


def lacks_organiser_faces(config: Mapping) -> bool:
    """Whether an AFEW run's track B finds faces itself instead of reading the organisers' crops
    (paper 3.2). Only AFEW ships such crops: on other datasets `dataset.kind` is the deviation."""
    trains_on_afew = any(entry["kind"] == "afew" for entry in training_datasets(config))
    return trains_on_afew and not config["faces"]["track_b"]["dataset_faces_dir"]


def paper_deviations(config: dict) -> list[PaperDeviation]:
    """Every paper value (constants.PAPER_CONFIG) that `config` sets differently, in table order, then
    track B without the organisers' faces. An AFEW run reaches that only with `require_pretraining`
    off (`check_pretraining_files` stops it otherwise), so a config that requires them lists no such
    path (the pretraining files likewise)."""
    from .constants import PAPER_CONFIG

    deviations = []
    # pooled training datasets: their kinds joined, as `dataset.kind` ("afew+ravdess")
    kinds = {"kind": "+".join(entry["kind"] for entry in training_datasets(config))}
    compared = {**config, "dataset": kinds}
    for key, (paper_value, section) in PAPER_CONFIG.items():
        value = config_value(compared, key, default=None)  # None: an optional key left unset
        if not _same_setting(value, paper_value):
            deviations.append(PaperDeviation(key, value, paper_value, section))
    if lacks_organiser_faces(config) and not config["models"]["vgg_lstm"]["require_pretraining"]:
        method = config["faces"]["track_b"]["method"]
        deviations.append(PaperDeviation(ORGANISER_FACES_KEY, None, ORGANISER_FACES,
                                         f"{ORGANISER_FACES_SECTION}; track B finds faces with {method} instead"))
    return deviations


class PretrainingFileError(ValueError):
    """A VGG-Face file, FER-2013 CSV or organisers' faces folder that the config asks for is missing
    or unusable."""


def pretraining_file_problems(vgg_config: dict) -> list[str]:
    """What is wrong with `models.vgg_lstm`'s VGG-Face file and FER-2013 CSV, one message each.

    A set path must exist and be readable in its format (checked from its first bytes only); with
    `require_pretraining` (paper 2.1) an empty path, a step (a) of 0 iterations or a VGG-Face file
    without fc6/fc7 (they would keep their random init) is a problem too.
    """
    prefix = "models.vgg_lstm"
    required = bool(vgg_config["require_pretraining"])
    problems = []
    for key, what in (("vgg_face_weights", "a VGG-Face weights file (paper 2.1 [21]; docs/models.md)"),
                      ("fer2013_csv", "fer2013.csv (paper 2.1 step (a) [22])")):
        path = str(vgg_config[key])
        if not path:
            if required:
                problems.append(f"{prefix}.{key} is empty but {prefix}.require_pretraining is true: set it to "
                                f"{what}, or set require_pretraining: false to train without it (not the paper)")
            continue
        problem = _unreadable(Path(path), key)
        if not problem and key == "vgg_face_weights" and required:
            problem = _without_fc_layers(Path(path))
        if problem:
            problems.append(f"{prefix}.{key} = {path!r}: {problem}")
    if required and int(vgg_config["fer_iterations"]) <= 0:
        problems.append(f"{prefix}.fer_iterations is {vgg_config['fer_iterations']} but {prefix}.require_pretraining "
                        f"is true: paper 2.1 step (a) needs FER-2013 training steps")
    return problems


def _unreadable(path: Path, key: str) -> str:
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "not a file"
    if not os.access(path, os.R_OK):
        return "not readable (permissions)"
    try:
        if key == "vgg_face_weights":
            from .models.vgg_face import vgg_face_format

            vgg_face_format(path)
        else:
            from .models.data import check_fer2013_header

            check_fer2013_header(path)
    except (OSError, ValueError) as error:
        return str(error)
    return ""


def _without_fc_layers(path: Path) -> str:
    from .models.vgg_face import missing_fc_layers

    missing = missing_fc_layers(path)
    if not missing:
        return ""
    return (f"a VGG-Face file without {' and '.join(missing)} (Keras' _notop_ file: convolutions only), so "
            f"{' and '.join(missing)} would stay at their random init, not VGG-Face's (paper 2.1): use the full "
            f"file (rcmalli_vggface_tf_vgg16.h5 or another format, docs/models.md), or set "
            f"models.vgg_lstm.require_pretraining: false to train with it")


def organiser_faces_problems(config: Mapping) -> list[str]:
    """What is wrong with track B's face source: a set `dataset_faces_dir` must be a folder; with
    `require_pretraining` an AFEW run must set it (paper 3.2), since without it track B silently
    becomes another experiment (faces found by the track's `method`)."""
    faces_dir = str(config["faces"]["track_b"]["dataset_faces_dir"])
    if faces_dir:
        return [] if Path(faces_dir).is_dir() else [f"{ORGANISER_FACES_KEY} = {faces_dir!r}: no such folder"]
    if lacks_organiser_faces(config) and config["models"]["vgg_lstm"]["require_pretraining"]:
        method = config["faces"]["track_b"]["method"]
        return [f"{ORGANISER_FACES_KEY} is empty but models.vgg_lstm.require_pretraining is true: set it to "
                f"AFEW's face folders from the organisers (paper {ORGANISER_FACES_SECTION}; docs/faces.md), or "
                f"set require_pretraining: false to let track B find faces with {method} (not the paper)"]
    return []


def check_pretraining_files(config: dict) -> None:
    """Stop before any job runs when the VGG-Face file or FER-2013 CSV cannot be used, or an AFEW
    run that requires the paper's inputs has no organisers' faces for track B."""
    problems = pretraining_file_problems(config["models"]["vgg_lstm"]) + organiser_faces_problems(config)
    if problems:
        raise PretrainingFileError("cannot start the VGG-LSTM training as configured:\n  - " + "\n  - ".join(problems))


# The keys of a face track's block that each method reads; the coverage keys apply to every method.
FACE_METHOD_SETTINGS: dict[str, tuple[str, ...]] = {
    "mediapipe": ("model_selection", "fallback"),
    "dlib": ("detect_scale", "min_face_px", "upsample", "min_score", "follow"),
    "dataset": ("dataset_faces_dir", "dataset_frame_offset"),
}
FACE_COVERAGE_SETTINGS: tuple[str, ...] = ("min_face_fraction", "min_faces")
FACE_STAGE_SETTINGS: tuple[str, ...] = (
    "size", "min_detection_confidence", "redetect_every", "check_min_score", "max_gap_s", "gzip_level",
)


def track_settings(faces_config: Mapping, track: str) -> dict:
    """The part of a validated ``faces:`` config block one track uses (the rule's params: editing
    track A's settings reruns only track A, and a key its method does not read reruns nothing).
    ``track_b.dataset_faces_dir`` set switches track B to the dataset's own crops."""
    block = faces_config[f"track_{track}"]
    method = "dataset" if block["dataset_faces_dir"] else block["method"]
    method_settings = {"method": method}
    method_settings.update({key: block[key] for key in FACE_METHOD_SETTINGS[method] + FACE_COVERAGE_SETTINGS})
    return {**{key: faces_config[key] for key in FACE_STAGE_SETTINGS}, "method_settings": method_settings}
