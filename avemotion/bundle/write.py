"""Writing a finished run's bundle: the fused models split into plain values and `.npy` arrays, the
settings, metrics and model card, every member's checksum in the manifest."""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .. import __version__
from ..artifacts import library_versions, read_fusion_weights, read_tsv, write_zip
from .card import model_card
from .spec import ARRAY, CONFIG, FORMAT, FORMAT_VERSION, LIBRARIES, MANIFEST, METRICS, MODEL_CARD, BundleError


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
    return write_bundle(out, inputs.checkpoints, read_fusion_weights(inputs.weights), inputs.metrics,
                        inputs.summary, inputs.manifest, inputs.settings, inputs.paper_deviations)


def write_bundle(out: str | Path, checkpoints: Mapping[str, str | Path], fusion_weights: Mapping,
                 metrics_files: Mapping[str, str | Path], summary_tsv: str | Path, manifest_tsv: str | Path,
                 settings: Mapping[str, Any], paper_deviations: Sequence[str] = ()) -> Path:
    """Write the bundle of a finished run: `checkpoints` {model: checkpoint.pt} of the fused models,
    the fusion's weights.json content, {model or fusion: metrics json}, the report's summary.tsv, the
    manifest (the splits), `settings` {media, faces, audio, dataset: result settings}."""
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
