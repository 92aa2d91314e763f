"""What every VGG-Face reader returns: the file's tensors in the torch layout of `VGG16`, under the layer
names every VGG-Face release uses, with the checks and the kernel conversion the readers share."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

# The 13 convs of VGG-16 "D" [20] under the names every VGG-Face release uses.
CONV_NAMES: tuple[str, ...] = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                               "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3")
FC_NAMES: tuple[str, ...] = ("fc6", "fc7")  # fc8 is the class layer: never loaded

# The same layers under the keys of `VGG16`'s own state_dict (the ``torch-state-dict`` format): the 13
# convs at the indices `make_layers` gives them in the plain (no batch norm) VGG-16, then fc6 and fc7.
VGG_FACE_KEYS: tuple[str, ...] = tuple(
    [f"features.{i}.{kind}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) for kind in ("weight", "bias")]
    + [f"{layer}.{kind}" for layer in FC_NAMES for kind in ("weight", "bias")]
)


@dataclass(frozen=True)
class FileTensor:
    """One weight or bias, converted to the torch layout of `VGG16`, and where it came from."""

    key: str  # its place in the file
    file_shape: tuple[int, ...]
    value: np.ndarray


@dataclass(frozen=True)
class VGGFaceFile:
    format: str
    tensors: dict[str, FileTensor]  # "conv1_1.weight" ... "fc7.bias", torch layout
    rgb_mean: tuple[float, float, float] | None  # None: keep the model's mean
    bgr: bool  # conv1_1 expects BGR input


def require_tensors(tensors: Mapping[str, FileTensor], path: Path, names: tuple[str, ...]) -> None:
    missing = [name for name in names if name not in tensors]
    if missing:
        raise ValueError(f"{path}: VGG-Face file lacks {missing[:4]}{'...' if len(missing) > 4 else ''}")


def layer_names(with_fc: bool = True) -> tuple[str, ...]:
    layers = CONV_NAMES + (FC_NAMES if with_fc else ())
    return tuple(f"{layer}.{kind}" for layer in layers for kind in ("weight", "bias"))


def hwio_to_linear(kernel: np.ndarray) -> np.ndarray:
    """An H x W x in x out kernel applied as a valid conv (MatConvNet fc6/fc7, Keras Dense over an
    (H, W, C) flatten) as the [out, C*H*W] weight of a Linear over torch's (C, H, W) flatten."""
    return kernel.transpose(3, 2, 0, 1).reshape(kernel.shape[3], -1)
