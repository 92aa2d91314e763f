"""A trained hybrid network as one file (`results/bundle/model.zip`) that another lab can run safely.

The zip holds only arrays (`.npy`, read with `allow_pickle=False`), JSON and Markdown:

- `manifest.json`: the format and its version, the avemotion and library versions that wrote it,
  and the sha256 of every other member;
- `config.json`: the settings that decide how a clip becomes model input (`media`, `audio`: result
  settings; `faces`: each track's settings as its faces jobs get them), the training dataset and its
  splits, the fusion models and weights;
- `metrics.json`: per model and fused, val/test metrics as the run wrote them;
- `models/<model>/model.json` and `models/<model>/arrays/<path>.npy`: each fused model as
  `models.save_trained_model` stores it (architecture, config, state_dict or the SVM's fitted
  arrays, standardisation statistics), split into its plain values and its arrays;
- `MODEL_CARD.md`: data, metrics with intervals, settings that differ from the paper, intended use
  and limits.

Reading checks everything before it uses anything: no member outside the manifest and none missing,
every checksum, and every member's content (a `.npy` is a NumPy array file without objects, a
`.json` parses): a pickle, under any name, is refused with the member's name. Members are written in
a fixed order with fixed timestamps, so the same run gives the same bytes.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from . import __version__
from .artifacts import library_versions, write_zip

FORMAT = "avemotion-bundle"
FORMAT_VERSION = 1
MANIFEST, CONFIG, METRICS, MODEL_CARD = "manifest.json", "config.json", "metrics.json", "MODEL_CARD.md"
MEMBER_SUFFIXES = (".npy", ".json", ".md")
LIBRARIES = ("torch", "numpy", "scikit-learn", "opensmile", "pyAudioAnalysis", "mediapipe", "dlib-bin", "av")
ARRAY = "__array__"  # in a model.json, {ARRAY: path} stands where model.json's tensor was


class BundleError(ValueError):
    """A bundle that cannot be read safely or as this avemotion writes them; the message names the member."""


@dataclass
class Bundle:
    """What a bundle holds, checked: its settings, fusion, metrics and the stored models' weights
    (dicts as `models.trained_model_from_weights` takes them)."""

    path: Path
    manifest: dict
    config: dict
    metrics: dict
    model_weights: dict[str, dict]
    model_card: str

    def differences(self) -> list[str]:
        """How the software that wrote the bundle differs from this one (avemotion and libraries)."""
        theirs = {"avemotion": self.manifest.get("avemotion_version"), **self.manifest.get("library_versions", {})}
        ours = {"avemotion": __version__, **json.loads(library_versions(LIBRARIES))}
        return [f"{name}: bundle written with {theirs.get(name)}, this is {ours.get(name)}"
                for name in sorted(set(theirs) | set(ours)) if theirs.get(name) != ours.get(name)]


# ------------------------------------------------------------------------------------------- writing
@dataclass(frozen=True)
class BundleInputs:
    """What rule `bundle` hands `write_bundle`: the fused models' checkpoints, the fusion weights,
    the metrics of every model and the fusion, the report's summary table, the manifest, the settings."""

    checkpoints: dict[str, Path]
    weights: Path
    metrics: dict[str, Path]
    summary: Path
    manifest: Path
    settings: dict[str, Any]
    paper_deviations: tuple[str, ...]

    @classmethod
    def from_snakemake(cls, snakemake) -> "BundleInputs":
        return cls(checkpoints={model: Path(snakemake.input[model]) for model in snakemake.params.models},
                   weights=Path(snakemake.input.weights),
                   metrics={name: Path(path) for name, path in zip(snakemake.params.metrics_names,
                                                                   snakemake.input.metrics)},
                   summary=Path(snakemake.input.summary), manifest=Path(snakemake.input.manifest),
                   settings=dict(snakemake.params.settings), paper_deviations=tuple(snakemake.params.paper_deviations))


def write_bundle_of_run(inputs: BundleInputs, out: str | Path) -> Path:
    return write_bundle(out, inputs.checkpoints, json.loads(inputs.weights.read_text()), inputs.metrics,
                        inputs.summary, inputs.manifest, inputs.settings, inputs.paper_deviations)


def write_bundle(out: str | Path, checkpoints: Mapping[str, str | Path], fusion_weights: Mapping,
                 metrics_files: Mapping[str, str | Path], summary_tsv: str | Path, manifest_tsv: str | Path,
                 settings: Mapping[str, Any], paper_deviations: Sequence[str] = ()) -> Path:
    """Write the bundle of a finished run: `checkpoints` {model: checkpoint.pt} of the fused models,
    the fusion's weights.json content, {model or fusion: metrics json}, the report's summary.tsv, the
    manifest (the splits), `settings` {media, faces, audio, dataset: result settings}."""
    from .artifacts import read_tsv

    members: dict[str, bytes] = {}
    for model in sorted(checkpoints):
        saved = torch.load(checkpoints[model], map_location="cpu", weights_only=True)
        arrays: dict[str, np.ndarray] = {}
        members[f"models/{model}/model.json"] = _json_bytes(_split_arrays(saved, "", arrays))
        for path, array in arrays.items():
            members[f"models/{model}/arrays/{path}.npy"] = _npy_bytes(array)
    splits: dict[str, dict[str, int]] = {}
    for row in read_tsv(manifest_tsv):
        split = splits.setdefault(row["split"], {})
        split[row["label"]] = split.get(row["label"], 0) + 1
    config = {**{key: settings[key] for key in sorted(settings)}, "splits": splits,
              "fusion": {key: fusion_weights[key] for key in ("models", "weights", "refit") if key in fusion_weights}}
    metrics = {name: json.loads(Path(path).read_text()) for name, path in sorted(metrics_files.items())}
    summary_rows = read_tsv(summary_tsv)
    members[CONFIG] = _json_bytes(config)
    members[METRICS] = _json_bytes(metrics)
    members[MODEL_CARD] = model_card(config, summary_rows, paper_deviations).encode()
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "avemotion_version": __version__,
                "library_versions": json.loads(library_versions(LIBRARIES)),
                "members": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(members.items())}}
    write_zip(out, [(MANIFEST, _json_bytes(manifest)), *sorted(members.items())])
    return Path(out)


def _split_arrays(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """`value` with every tensor replaced by {ARRAY: its path}, the tensors collected in `arrays`."""
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bfloat16:
            raise BundleError(f"{path}: a bfloat16 tensor has no NumPy file format")
        arrays[path] = value.detach().cpu().numpy()
        return {ARRAY: path}
    if isinstance(value, Mapping):
        return {str(key): _split_arrays(item, f"{path}/{key}" if path else str(key), arrays)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split_arrays(item, f"{path}/{index}", arrays) for index, item in enumerate(value)]
    return value


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array(array, order="C"), allow_pickle=False)  # (ascontiguousarray makes 0-d arrays 1-d)
    return buffer.getvalue()


def model_card(config: Mapping, summary_rows: Sequence[Mapping[str, str]], paper_deviations: Sequence[str]) -> str:
    """MODEL_CARD.md: what the network was trained on, how well it did (in-corpus, and on the datasets
    it was never trained on where the run measured them), how it differs from the paper, what it is
    for and what it is not. `config["dataset"]` is one dataset's settings or a list of them (pooled
    training)."""
    datasets = _training_datasets(config)
    in_corpus = [row for row in summary_rows if row.get("role", "train") != "evaluate"]
    cross_corpus = [row for row in summary_rows if row.get("role") == "evaluate"]
    lines = ["# avemotion hybrid audio-video emotion network", "",
             "Seven classes (Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise) from a video clip's faces and "
             "audio: two VGG16-LSTMs on two face tracks, an SVM on openSMILE IS10 functionals, an LSTM on "
             "short-term audio features and an Inception-LSTM on audio maps, fused with weights chosen on the "
             "validation split (Hybrid audio-video emotion recognition, EmotiW 2017).", "",
             "## Data", "", _training_data_sentence(datasets) + " Clips per split and label:", "",
             "| split | clips | per label |", "|---|---|---|"]
    for split, labels in config.get("splits", {}).items():
        per_label = ", ".join(f"{label} {count}" for label, count in sorted(labels.items()))
        lines.append(f"| {split} | {sum(labels.values())} | {per_label} |")
    fusion = config.get("fusion", {})
    lines += ["", "## Fusion", "", "Weights (chosen on val" + (", models refit on train+val" if fusion.get("refit")
                                                               else "") + "): "
              + ", ".join(f"{model} {weight:g}" for model, weight in fusion.get("weights", {}).items()) + ".", ""]
    lines += ["## Metrics", "", "From the run's report (`results/report/summary.tsv`): accuracy and unweighted average "
              "recall in %, with 95 % bootstrap intervals over the clips; the paper's values where it gives them.", "",
              "| dataset | model | split | clips | accuracy | UAR | paper accuracy | paper UAR |",
              "|---|---|---|---|---|---|---|---|"]
    for row in in_corpus:
        lines.append(f"| {row.get('dataset') or '-'} | {row['model']} | {row['split']} | {row['n']} | "
                     f"{_interval(row, 'accuracy')} | {_interval(row, 'uar')} | {_percent(row.get('paper_accuracy'))} | "
                     f"{_percent(row.get('paper_uar'))} |")
    if cross_corpus:
        lines += ["", "## Cross-corpus metrics", "",
                  "Measured on datasets it was never trained on (all their labelled clips, every split): accuracy "
                  "and UAR in % with 95 % bootstrap intervals, and the drop from the same model's in-corpus val "
                  "score in points (95 % bootstrap interval, the two clip sets resampled independently). A "
                  "dataset's UAR averages the classes it has.", "",
                  "| dataset | model | clips | accuracy | UAR | accuracy drop | UAR drop |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {row.get('dataset') or '-'} | {row['model']} | {row['n']} | {_interval(row, 'accuracy')} | "
                  f"{_interval(row, 'uar')} | {_drop(row, 'accuracy')} | {_drop(row, 'uar')} |" for row in cross_corpus]
    lines += ["", "## Settings that differ from the paper", ""]
    lines += [f"- {deviation}" for deviation in paper_deviations] or ["- none"]
    lines += ["", "## Intended use", "",
              "Research on audio-video emotion recognition: predicting one of the seven classes for clips like "
              "the training clips (`avemotion predict --bundle model.zip CLIP...`), and comparing with the "
              "paper's results.", "", "## Limits", ""]
    if any(dataset.get("kind") == "demo" for dataset in datasets):
        lines.append("- Trained on avemotion's synthetic demo corpus (still photos animated per emotion, with "
                     "synthesized voices): it is not an emotion recogniser for real faces or voices.")
    if cross_corpus:
        measured = ", ".join(dict.fromkeys(row.get("dataset") or "-" for row in cross_corpus))
        lines.append(f"- Seven acted or film emotions as labelled in the training data; measured on other corpora "
                     f"only as \"Cross-corpus metrics\" shows ({measured}); scores on other recordings (cultures, "
                     "cameras, spontaneous emotion) are unknown until measured.")
    else:
        lines.append("- Seven acted or film emotions as labelled in the training dataset; scores on other recordings "
                     "(other corpora, cultures, cameras, spontaneous emotion) are unknown until measured.")
    lines += ["- Not for decisions about people: emotion labels of faces and voices are neither reliable nor "
              "neutral enough for that.", ""]
    return "\n".join(lines)


def _training_datasets(config: Mapping) -> list[Mapping[str, Any]]:
    """The training datasets' settings: config["dataset"] is one mapping or a list of them."""
    dataset = config.get("dataset", {})
    return [dataset] if isinstance(dataset, Mapping) else list(dataset)


def _dataset_phrase(dataset: Mapping[str, Any]) -> str:
    """`name` (kind, path), leaving out a kind equal to the name and an empty path."""
    kind = dataset.get("kind", "unknown")
    name = dataset.get("name") or kind
    details = ([] if name == kind else [str(kind)]) + ([str(dataset["path"])] if dataset.get("path") else [])
    return f"`{name}`" + (f" ({', '.join(details)})" if details else "")


def _training_data_sentence(datasets: Sequence[Mapping[str, Any]]) -> str:
    if len(datasets) == 1:
        return f"Training dataset: {_dataset_phrase(datasets[0])}."
    return f"Training datasets (pooled): {', '.join(_dataset_phrase(dataset) for dataset in datasets)}."


def _percent(fraction: str | None) -> str:
    return f"{100 * float(fraction):.1f}" if fraction not in (None, "") else "-"


def _interval(row: Mapping[str, str], metric: str) -> str:
    if row.get(metric) in (None, ""):
        return "-"
    return f"{_percent(row[metric])} [{_percent(row.get(f'{metric}_low'))}, {_percent(row.get(f'{metric}_high'))}]"


def _drop(row: Mapping[str, str], metric: str) -> str:
    """The drop from in-corpus val in points, signed, with its interval; "-" where the row has none."""
    value = row.get(f"drop_{metric}")
    if value in (None, ""):
        return "-"
    low, high = (row.get(f"drop_{metric}_{end}") for end in ("low", "high"))
    return f"{100 * float(value):+.1f} [{_signed_points(low)}, {_signed_points(high)}]"


def _signed_points(fraction: str | None) -> str:
    return f"{100 * float(fraction):+.1f}" if fraction not in (None, "") else "-"


# ------------------------------------------------------------------------------------------- reading
def read_bundle(path: str | Path) -> Bundle:
    """Open and check a bundle (see the module's docstring); raises BundleError naming the member."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise BundleError(f"{path}: not a readable zip file ({error})") from error
    with archive:
        names = archive.namelist()
        if len(names) != len(set(names)):
            raise BundleError(f"{path}: a member name appears twice")
        if MANIFEST not in names:
            raise BundleError(f"{path}: no {MANIFEST}: not an avemotion bundle")
        manifest = _json_member(path, MANIFEST, archive.read(MANIFEST))
        _check_format(path, manifest)
        listed = manifest.get("members", {})
        unlisted = sorted(set(names) - set(listed) - {MANIFEST})
        if unlisted:
            raise BundleError(f"{path}: member {unlisted[0]} is not in the manifest")
        missing = sorted(set(listed) - set(names))
        if missing:
            raise BundleError(f"{path}: member {missing[0]} is in the manifest but missing")
        contents: dict[str, Any] = {}
        for name, digest in listed.items():
            data = archive.read(name)
            if hashlib.sha256(data).hexdigest() != digest:
                raise BundleError(f"{path}: member {name} does not match its checksum in the manifest")
            contents[name] = _member(path, name, data)
    model_weights = {}
    for name in contents:
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "models" and parts[2] == "model.json":
            model = parts[1]
            model_weights[model] = _join_arrays(path, model, contents[name], contents)
    config = contents.get(CONFIG)
    if config is None:
        raise BundleError(f"{path}: member {CONFIG} is missing")
    absent = [model for model in config.get("fusion", {}).get("models", []) if model not in model_weights]
    if absent:
        raise BundleError(f"{path}: member models/{absent[0]}/model.json is missing (the fusion uses it)")
    return Bundle(path, manifest, config, contents.get(METRICS, {}), model_weights, contents.get(MODEL_CARD, ""))


def _check_format(path: Path, manifest: Mapping) -> None:
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: {MANIFEST} says format {manifest.get('format')!r}, not {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format version {manifest.get('format_version')} (written by avemotion "
                          f"{manifest.get('avemotion_version')}); this avemotion {__version__} reads version "
                          f"{FORMAT_VERSION} only")


def _member(path: Path, name: str, data: bytes) -> Any:
    if not name.endswith(MEMBER_SUFFIXES):
        raise BundleError(f"{path}: member {name} is not an array, JSON or Markdown file ({', '.join(MEMBER_SUFFIXES)})")
    if name.endswith(".npy"):
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as error:  # NumPy's refusal of object arrays (pickled) and of non-.npy bytes
            raise BundleError(f"{path}: member {name} is not a plain NumPy array ({error})") from error
    if name.endswith(".json"):
        return _json_member(path, name, data)
    try:
        return data.decode()
    except UnicodeDecodeError as error:
        raise BundleError(f"{path}: member {name} is not UTF-8 text") from error


def _json_member(path: Path, name: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path}: member {name} is not JSON ({error})") from error


def _join_arrays(path: Path, model: str, value: Any, contents: Mapping[str, Any]) -> Any:
    """model.json with every {ARRAY: path} replaced by that array, as a tensor."""
    if isinstance(value, dict) and set(value) == {ARRAY}:
        member = f"models/{model}/arrays/{value[ARRAY]}.npy"
        if member not in contents:
            raise BundleError(f"{path}: member {member} is missing (models/{model}/model.json names it)")
        return torch.from_numpy(np.array(contents[member]))
    if isinstance(value, dict):
        return {key: _join_arrays(path, model, item, contents) for key, item in value.items()}
    if isinstance(value, list):
        return [_join_arrays(path, model, item, contents) for item in value]
    return value
