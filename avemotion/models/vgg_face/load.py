"""Loading a VGG-Face file into `VGG16` (paper 2.1): detect its format, read it with that format's
reader, shape-check its tensors against the model and load them with the file's channel order and mean."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .caffe import read_caffe
from .detect import vgg_face_format
from .keras_h5 import read_keras_h5
from .layout import CONV_NAMES, FC_NAMES, VGGFaceFile
from .matconvnet import read_matconvnet
from .torch_files import read_torch

log = logging.getLogger(__name__)

READERS: dict[str, Callable[[Path, tuple[int, int, int]], VGGFaceFile]] = {
    "torch-dag": read_torch,
    "torch-state-dict": read_torch,
    "keras-h5": read_keras_h5,
    "matconvnet": read_matconvnet,
    "caffe": read_caffe,
}


def load_vgg_face_weights(model: nn.Module, path: str | Path) -> list[str]:
    """Paper 2.1: initialise `model` (a plain `VGG16`) from a VGG-Face file of any of `FORMATS`,
    with that file's channel order and mean. Loads the 13 convs, fc6 and fc7 (fc8 keeps its N(0, 1e-4)
    init); shapes must match the model (width multiplier 1.0 and input 224 for the real VGG-Face).
    Returns the loaded `model.state_dict()` keys."""
    path = Path(path)
    if getattr(model, "batch_norm", False):
        raise ValueError(f"{path}: VGG-Face weights fit the plain VGG-16; set models.vgg_lstm.batch_norm: false")
    detected = vgg_face_format(path)
    weights = READERS[detected](path, fc6_input_shape(model))
    state = vgg16_state(weights, model, path)
    model.load_state_dict(state, strict=False)
    loaded = list(state)
    if weights.rgb_mean is not None:
        with torch.no_grad():
            model.mean.copy_(torch.tensor(weights.rgb_mean, dtype=model.mean.dtype).view(1, 3, 1, 1))
        loaded.append("mean")
    log.info("%s: loaded %d VGG-Face tensors (%s, %s input, RGB mean %s)", path, len(state), detected,
             "BGR" if weights.bgr else "RGB", weights.rgb_mean)
    return loaded


def fc6_input_shape(model: nn.Module) -> tuple[int, int, int]:
    """(C, H, W) of pool5 as the model flattens it into fc6."""
    channels = [m for m in model.features if isinstance(m, nn.Conv2d)][-1].out_channels
    spatial = int(round((model.fc6.in_features / channels) ** 0.5))
    return channels, spatial, spatial


def vgg16_state(weights: VGGFaceFile, model: nn.Module, path: Path) -> dict[str, torch.Tensor]:
    """The file's convs, fc6 and fc7 under the model's keys, shape-checked, conv1_1 turned to RGB input."""
    conv_indices = [i for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    names = {f"{conv}.{kind}": f"features.{index}.{kind}"
             for conv, index in zip(CONV_NAMES, conv_indices) for kind in ("weight", "bias")}
    names.update({f"{fc}.{kind}": f"{fc}.{kind}" for fc in FC_NAMES for kind in ("weight", "bias")})
    own = model.state_dict()
    state = {}
    for name, key in names.items():
        if name not in weights.tensors:
            continue
        tensor = weights.tensors[name]
        value = tensor.value
        if tuple(value.shape) != tuple(own[key].shape):
            raise ValueError(
                f"{path}: {tensor.key} has shape {tensor.file_shape} ({weights.format}; {tuple(value.shape)} in "
                f"torch layout) but the model's {key} needs {tuple(own[key].shape)}: the file's VGG width and "
                f"input size must match models.vgg_lstm.width_multiplier and input_size (1.0 and 224 for the "
                f"released VGG-Face)")
        if name == "conv1_1.weight" and weights.bgr:
            value = value[:, ::-1]  # the model feeds RGB: reorder the BGR filters' input channels
        state[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    return state
