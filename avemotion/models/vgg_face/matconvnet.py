"""MatConvNet (``matconvnet``): ``vgg_face.mat`` / ``vgg-face.mat`` in the simplenn layout, read with
``scipy.io.loadmat`` (MAT v5; a v7.3 file is HDF5 and must be re-saved)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...constants import VGG_FACE_RGB_MEAN
from .layout import CONV_NAMES, FC_NAMES, FileTensor, VGGFaceFile, hwio_to_linear, layer_names, require_tensors

MAT5_HEADER = b"MATLAB 5.0 MAT-file"
MAT73_HEADER = b"MATLAB 7.3 MAT-file"


def matconvnet_format(path: Path) -> str | None:
    from scipy.io import whosmat

    names = {name for name, _, _ in whosmat(str(path))}
    return "matconvnet" if names & {"net", "layers"} else None


def read_matconvnet(path: Path, fc6_input: tuple[int, int, int]) -> VGGFaceFile:
    from scipy.io import loadmat

    contents = loadmat(str(path), struct_as_record=False, squeeze_me=False)
    net = _unwrap(contents["net"]) if "net" in contents else None
    layers = net.layers if net is not None else contents["layers"]
    meta = getattr(net, "meta", None) if net is not None else contents.get("meta")
    normalization = (_unwrap(meta).normalization if meta is not None
                     else getattr(net, "normalization", None) if net is not None else contents.get("normalization"))
    tensors = {}
    for index, entry in enumerate(np.asarray(layers).ravel()):
        layer = _unwrap(entry)
        name = _matlab_text(layer.name)
        if name not in CONV_NAMES + FC_NAMES or _matlab_text(layer.type) != "conv":
            continue
        if hasattr(layer, "weights"):
            filters, biases = [_unwrap(item) for item in np.asarray(layer.weights).ravel()[:2]]
            where = f"layers{{{index + 1}}}.weights"
        else:
            filters, biases = layer.filters, layer.biases
            where = f"layers{{{index + 1}}}.filters/biases"
        filters = np.asarray(filters, np.float32)
        filters = filters.reshape(filters.shape + (1,) * (4 - filters.ndim))  # MATLAB drops trailing 1s
        converted = hwio_to_linear(filters) if name in FC_NAMES else filters.transpose(3, 2, 0, 1)
        tensors[f"{name}.weight"] = FileTensor(f"{where} ({name} filters)", filters.shape, converted)
        tensors[f"{name}.bias"] = FileTensor(f"{where} ({name} biases)", np.shape(biases),
                                             np.asarray(biases, np.float32).ravel())
    require_tensors(tensors, path, layer_names())
    return VGGFaceFile("matconvnet", tensors, _average_colour(normalization), bgr=False)


def _unwrap(value):
    """MATLAB's 1x1 cells and struct arrays as loaded by scipy, down to the element."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.ravel()[0]
    return value


def _matlab_text(value) -> str:
    value = _unwrap(value)
    if isinstance(value, np.ndarray):
        return "".join(str(v) for v in value.ravel())
    return str(value)


def _average_colour(normalization) -> tuple[float, float, float]:
    """The RGB mean of `averageImage` (1x1x3, 3 values, or a whole HxWx3 mean image); the release's
    mean when the file has none."""
    normalization = _unwrap(normalization)
    average = getattr(normalization, "averageImage", None)
    if average is None:
        return VGG_FACE_RGB_MEAN
    pixels = np.asarray(_unwrap(average), np.float64).reshape(-1, 3)
    return tuple(float(v) for v in pixels.mean(0))
