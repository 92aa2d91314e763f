"""Reading a bundle: every member checked (listed, checksum, content) before anything is used."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from .. import __version__
from .spec import ARRAY, CONFIG, FORMAT, FORMAT_VERSION, MANIFEST, MEMBER_SUFFIXES, METRICS, MODEL_CARD, Bundle, BundleError


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
