"""Torch files, both layouts: pytorch-mcn's ``vgg_face_dag.pth`` (``torch-dag``) and a state_dict in
this package's own VGG16 layout (``torch-state-dict``), told apart by their key names."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Mapping

import torch

from ...constants import VGG_FACE_RGB_MEAN
from .layout import VGG_FACE_KEYS, FileTensor, VGGFaceFile, layer_names, require_tensors

ZIP_SIGNATURE = b"PK\x03\x04"


def torch_keys_format(pickled: bytes) -> str | None:
    """Tell the two torch layouts apart by the key names in the state_dict's pickle."""
    if b"conv1_1.weight" in pickled:
        return "torch-dag"
    if b"features.0.weight" in pickled or b"fc6.weight" in pickled:
        return "torch-state-dict"
    return None


def torch_zip_format(path: Path, header_bytes: int) -> str | None:
    """The layout of a torch zip file, from the first `header_bytes` of its pickle."""
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
        if not pickles:
            return None
        with archive.open(pickles[0]) as stream:
            return torch_keys_format(stream.read(header_bytes))


def read_torch(path: Path, fc6_input: tuple[int, int, int]) -> VGGFaceFile:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: expected a state_dict (dict of tensors), got {type(state).__name__}")
    state = {_strip_module(key): value for key, value in state.items()}
    if "conv1_1.weight" in state:
        return _torch_dag(path, state)
    return _torch_own_layout(path, state)


def _strip_module(key: str) -> str:
    return key[len("module."):] if key.startswith("module.") else key  # saved from nn.DataParallel


def _torch_dag(path: Path, state: Mapping[str, torch.Tensor]) -> VGGFaceFile:
    require_tensors(state, path, layer_names())
    tensors = {}
    for name in layer_names():
        array = state[name].float().numpy()
        if name.startswith("fc") and array.ndim == 4:  # a conversion that kept fc6/fc7 as convs
            array = array.reshape(array.shape[0], -1)
        tensors[name] = FileTensor(name, tuple(state[name].shape), array)
    return VGGFaceFile("torch-dag", tensors, VGG_FACE_RGB_MEAN, bgr=False)


def _torch_own_layout(path: Path, state: Mapping[str, torch.Tensor]) -> VGGFaceFile:
    missing = [key for key in VGG_FACE_KEYS if key not in state]
    if missing:
        raise ValueError(f"{path}: VGG-Face state_dict lacks {missing[:4]}{'...' if len(missing) > 4 else ''}")
    conv_keys = [key for key in VGG_FACE_KEYS if key.startswith("features.")]
    tensors = {}
    for name, key in zip(layer_names(with_fc=False), conv_keys):
        tensors[name] = FileTensor(key, tuple(state[key].shape), state[key].float().numpy())
    for name in layer_names()[len(conv_keys):]:
        tensors[name] = FileTensor(name, tuple(state[name].shape), state[name].float().numpy())
    mean = state.get("mean")
    rgb_mean = tuple(float(v) for v in mean.flatten()) if isinstance(mean, torch.Tensor) and mean.numel() == 3 else None
    return VGGFaceFile("torch-state-dict", tensors, rgb_mean, bgr=False)
