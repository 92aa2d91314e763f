"""Keras HDF5 (``keras-h5``): rcmalli keras-vggface's ``rcmalli_vggface_tf_vgg16.h5`` and its
``_notop_`` variant (convs only), written by Keras 2 ``save_weights`` (or ``save``)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...constants import VGG_FACE_KERAS_BGR_MEAN
from .layout import CONV_NAMES, FC_NAMES, FileTensor, VGGFaceFile, hwio_to_linear, layer_names, require_tensors

log = logging.getLogger(__name__)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def keras_h5_format(path: Path) -> str | None:
    import h5py

    with h5py.File(path, "r") as handle:
        layers = _keras_layer_group(handle)
        names = [_text(name) for name in layers.attrs.get("layer_names", [])]
        return "keras-h5" if "conv1_1" in names else None


def keras_h5_missing_fc(path: Path) -> tuple[str, ...]:
    """fc6 / fc7 where the file's layer list lacks them (the `_notop_` variant), from its header."""
    import h5py

    with h5py.File(path, "r") as handle:
        present = {_text(name) for name in _keras_layer_group(handle).attrs.get("layer_names", [])}
    return tuple(layer for layer in FC_NAMES if layer not in present)


def read_keras_h5(path: Path, fc6_input: tuple[int, int, int]) -> VGGFaceFile:
    import h5py

    channels, height, width = fc6_input
    tensors = {}
    with h5py.File(path, "r") as handle:
        layers = _keras_layer_group(handle)
        present = {_text(name) for name in layers.attrs["layer_names"]}
        for layer in CONV_NAMES + FC_NAMES:
            if layer not in present:
                continue
            group = layers[layer]
            kernel_name, bias_name = [_text(name) for name in group.attrs["weight_names"]][:2]
            kernel, bias = np.asarray(group[kernel_name], np.float32), np.asarray(group[bias_name], np.float32)
            key = f"{layer}/{kernel_name}"
            if layer in FC_NAMES:
                rows = channels * height * width if layer == "fc6" else kernel.shape[0]
                if kernel.ndim != 2 or kernel.shape[0] != rows:
                    raise ValueError(f"{path}: {key} has shape {kernel.shape} but the model's fc6 needs "
                                     f"[{rows}, out] (pool5 {height}x{width}x{channels} flattened): match "
                                     f"models.vgg_lstm.width_multiplier and input_size to the file")
                spatial = (height, width, channels) if layer == "fc6" else (1, 1, kernel.shape[0])
                converted = hwio_to_linear(kernel.reshape(*spatial, kernel.shape[1]))
            else:
                converted = kernel.transpose(3, 2, 0, 1)
            tensors[f"{layer}.weight"] = FileTensor(key, kernel.shape, converted)
            tensors[f"{layer}.bias"] = FileTensor(f"{layer}/{bias_name}", bias.shape, bias)
    require_tensors(tensors, path, layer_names(with_fc=False))
    if "fc6.weight" not in tensors:
        log.warning("%s: a Keras VGG-Face file without top (no fc6/fc7): only the 13 convs are loaded, "
                    "fc6 and fc7 keep their random init (models.vgg_lstm.require_pretraining: true refuses "
                    "such a file before any job)", path)
    rgb_mean = tuple(float(v) for v in VGG_FACE_KERAS_BGR_MEAN[::-1])
    return VGGFaceFile("keras-h5", tensors, rgb_mean, bgr=True)


def _keras_layer_group(handle):
    """The group holding one subgroup per layer: the root (`save_weights`) or `model_weights` (`save`)."""
    return handle["model_weights"] if "model_weights" in handle else handle


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)
