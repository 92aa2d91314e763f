"""VGG-Face [21] weights (paper 2.1) from the files that are actually distributed, detected by content.

Accepted (`FORMATS`), each with the input convention of its release, which is applied on loading so that
`VGG16` keeps taking RGB 0..255 images:

- ``torch-dag``: Albanie's pytorch-mcn conversion ``vgg_face_dag.pth``, a torch state_dict with keys
  ``conv1_1.weight`` ... ``conv5_3.bias`` ([out, in, 3, 3]) and ``fc6/fc7/fc8.weight/bias`` stored as
  ``nn.Linear`` ([4096, 25088] over pool5 flattened as C, H, W). RGB, mean of its ``meta``, 0..255.
- ``keras-h5``: rcmalli keras-vggface ``rcmalli_vggface_tf_vgg16.h5`` / ``rcmalli_vggface_tf_notop_vgg16.h5``
  (Keras 2 ``save_weights``: root attribute ``layer_names``, one group per layer with attribute
  ``weight_names`` such as ``conv1_1/kernel:0``; kernels H x W x in x out; fc6 kernel [25088, 4096] over
  pool5 flattened as H, W, C). BGR, mean (93.5940, 104.7624, 129.1863) in BGR order, 0..255. The notop
  file has no fc6/fc7: those keep their init and a warning is logged.
- ``matconvnet``: ``vgg_face.mat`` / ``vgg-face.mat`` (simplenn: ``layers`` cell array of structs with
  ``name``, ``type`` and ``weights = {filters, biases}`` or the older ``filters``/``biases`` fields, at the top
  level or inside ``net``; filters H x W x in x out; fc6 a 7x7 conv, fc7/fc8 1x1 convs) read with
  ``scipy.io.loadmat``. RGB, mean ``meta.normalization.averageImage`` (or ``normalization`` of older files).
- ``caffe``: ``VGG_FACE.caffemodel`` (protobuf NetParameter with V1 ``layers`` or ``layer``; BlobProto with
  ``shape`` or the legacy num/channels/height/width), read by a small wire-format reader. Weights as torch;
  BGR; the mean is not in the file: the release's RGB mean is used.
- ``torch-state-dict``: a torch state_dict in this package's own VGG16 layout (``features.N.weight``,
  ``fc6.weight`` ...; see `avemotion.models.vgg.VGG_FACE_KEYS`), RGB, the model's mean (or the file's
  ``mean`` when it holds one).

fc8 is never loaded (paper 2.1: re-initialised for the 7 emotions).
"""
from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from ...constants import VGG_FACE_KERAS_BGR_MEAN, VGG_FACE_RGB_MEAN

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("torch-dag", "keras-h5", "matconvnet", "caffe", "torch-state-dict")
ACCEPTED_FILES = ("vgg_face_dag.pth (pytorch-mcn), rcmalli_vggface_tf_vgg16.h5 or its _notop_ variant "
                  "(keras-vggface), vgg_face.mat (MatConvNet), VGG_FACE.caffemodel (Caffe), or a torch "
                  "state_dict in avemotion's VGG16 layout")
# The 13 convs of VGG-16 "D" [20] under the names every VGG-Face release uses.
CONV_NAMES: tuple[str, ...] = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                               "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3")
FC_NAMES: tuple[str, ...] = ("fc6", "fc7")  # fc8 is the class layer: never loaded
HEADER_BYTES = 1 << 16
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
MAT5_HEADER = b"MATLAB 5.0 MAT-file"
MAT73_HEADER = b"MATLAB 7.3 MAT-file"


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


# ------------------------------------------------------------------ detection (header only)

def vgg_face_format(path: str | Path) -> str:
    """The format (one of `FORMATS`) of a VGG-Face file, from its first bytes, the zip directory, the
    HDF5 keys or the MAT variable headers only (never the whole file). ValueError naming the path for a
    missing, unreadable or unknown file."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            header = stream.read(HEADER_BYTES)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such VGG-Face file") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read the VGG-Face file ({error.strerror or error})") from None
    if header.startswith(MAT73_HEADER):
        raise ValueError(f"{path}: a MATLAB v7.3 (HDF5) MAT-file; re-save it in MATLAB with "
                         f"save(..., '-struct', 'net', '-v7') so that scipy.io.loadmat can read it")
    try:
        detected = _detect(path, header)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: cannot read the VGG-Face file's header ({error}); accepted formats: "
                         f"{', '.join(FORMATS)} ({ACCEPTED_FILES})") from None
    if detected is None:
        raise ValueError(f"{path}: not a VGG-Face weights file of a known layout; accepted formats: "
                         f"{', '.join(FORMATS)} ({ACCEPTED_FILES})")
    return detected


def _detect(path: Path, header: bytes) -> str | None:
    if header.startswith(ZIP_SIGNATURE):
        return _torch_zip_format(path)
    if header.startswith(HDF5_SIGNATURE):
        return _keras_h5_format(path)
    if header.startswith(MAT5_HEADER):
        return _matconvnet_format(path)
    if header[:1] == b"\x80":  # a pickle: torch's legacy (pre-1.6) serialisation
        return _torch_keys_format(header)
    return "caffe" if _looks_like_caffe(header) else None


def _torch_keys_format(pickled: bytes) -> str | None:
    """Tell the two torch layouts apart by the key names in the state_dict's pickle."""
    if b"conv1_1.weight" in pickled:
        return "torch-dag"
    if b"features.0.weight" in pickled or b"fc6.weight" in pickled:
        return "torch-state-dict"
    return None


def _torch_zip_format(path: Path) -> str | None:
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
        if not pickles:
            return None
        with archive.open(pickles[0]) as stream:
            return _torch_keys_format(stream.read(HEADER_BYTES))


def _keras_layer_group(handle):
    """The group holding one subgroup per layer: the root (`save_weights`) or `model_weights` (`save`)."""
    return handle["model_weights"] if "model_weights" in handle else handle


def _keras_h5_format(path: Path) -> str | None:
    import h5py

    with h5py.File(path, "r") as handle:
        layers = _keras_layer_group(handle)
        names = [_text(name) for name in layers.attrs.get("layer_names", [])]
        return "keras-h5" if "conv1_1" in names else None


def _matconvnet_format(path: Path) -> str | None:
    from scipy.io import whosmat

    names = {name for name, _, _ in whosmat(str(path))}
    return "matconvnet" if names & {"net", "layers"} else None


def _looks_like_caffe(header: bytes) -> bool:
    """A NetParameter whose first layer (V1 `layers` = 2 or `layer` = 100) has a readable name."""
    try:
        for number, wire, start, end in _protobuf_fields(header, 0, len(header), partial=True):
            if wire == 2 and number in (2, 100):
                name_field = 4 if number == 2 else 1
                names = [header[s:e] for n, w, s, e in _protobuf_fields(header, start, min(end, len(header)),
                                                                        partial=True)
                         if n == name_field and w == 2 and e <= len(header)]
                return bool(names) and all(name.isascii() and name.decode().isprintable() for name in names[:1])
            if number not in (1, 3, 4, 5, 6, 7, 8):  # NetParameter's other fields
                return False
    except ValueError:
        return False
    return False


# ------------------------------------------------------------------ loading

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


def _require(tensors: Mapping[str, FileTensor], path: Path, names: tuple[str, ...]) -> None:
    missing = [name for name in names if name not in tensors]
    if missing:
        raise ValueError(f"{path}: VGG-Face file lacks {missing[:4]}{'...' if len(missing) > 4 else ''}")


def _layer_names(with_fc: bool = True) -> tuple[str, ...]:
    layers = CONV_NAMES + (FC_NAMES if with_fc else ())
    return tuple(f"{layer}.{kind}" for layer in layers for kind in ("weight", "bias"))


def hwio_to_linear(kernel: np.ndarray) -> np.ndarray:
    """An H x W x in x out kernel applied as a valid conv (MatConvNet fc6/fc7, Keras Dense over an
    (H, W, C) flatten) as the [out, C*H*W] weight of a Linear over torch's (C, H, W) flatten."""
    return kernel.transpose(3, 2, 0, 1).reshape(kernel.shape[3], -1)


# --- torch (both layouts)

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


def _file_tensor(key: str, value: torch.Tensor | np.ndarray, converted: np.ndarray | None = None) -> FileTensor:
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    return FileTensor(key, tuple(array.shape), array if converted is None else converted)


def _torch_dag(path: Path, state: Mapping[str, torch.Tensor]) -> VGGFaceFile:
    _require(state, path, _layer_names())
    tensors = {}
    for name in _layer_names():
        array = state[name].float().numpy()
        if name.startswith("fc") and array.ndim == 4:  # a conversion that kept fc6/fc7 as convs
            array = array.reshape(array.shape[0], -1)
        tensors[name] = FileTensor(name, tuple(state[name].shape), array)
    return VGGFaceFile("torch-dag", tensors, VGG_FACE_RGB_MEAN, bgr=False)


def _torch_own_layout(path: Path, state: Mapping[str, torch.Tensor]) -> VGGFaceFile:
    from ..vgg import VGG_FACE_KEYS  # imported here: vgg.py re-exports this module

    missing = [key for key in VGG_FACE_KEYS if key not in state]
    if missing:
        raise ValueError(f"{path}: VGG-Face state_dict lacks {missing[:4]}{'...' if len(missing) > 4 else ''}")
    conv_keys = [key for key in VGG_FACE_KEYS if key.startswith("features.")]
    tensors = {}
    for name, key in zip(_layer_names(with_fc=False), conv_keys):
        tensors[name] = FileTensor(key, tuple(state[key].shape), state[key].float().numpy())
    for name in _layer_names()[len(conv_keys):]:
        tensors[name] = FileTensor(name, tuple(state[name].shape), state[name].float().numpy())
    mean = state.get("mean")
    rgb_mean = tuple(float(v) for v in mean.flatten()) if isinstance(mean, torch.Tensor) and mean.numel() == 3 else None
    return VGGFaceFile("torch-state-dict", tensors, rgb_mean, bgr=False)


# --- Keras HDF5

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
    _require(tensors, path, _layer_names(with_fc=False))
    if "fc6.weight" not in tensors:
        log.warning("%s: a Keras VGG-Face file without top (no fc6/fc7): only the 13 convs are loaded, "
                    "fc6 and fc7 keep their random init", path)
    rgb_mean = tuple(float(v) for v in VGG_FACE_KERAS_BGR_MEAN[::-1])
    return VGGFaceFile("keras-h5", tensors, rgb_mean, bgr=True)


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


# --- MatConvNet

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
    _require(tensors, path, _layer_names())
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


# --- Caffe

def read_caffe(path: Path, fc6_input: tuple[int, int, int]) -> VGGFaceFile:
    data = path.read_bytes()
    tensors = {}
    for name, blobs in _caffe_layers(data):
        if name not in CONV_NAMES + FC_NAMES or len(blobs) < 2:
            continue
        (weight, weight_dims), (bias, bias_dims) = blobs[:2]
        if name in FC_NAMES:
            weight_dims = _without_leading_ones(weight_dims, 2)  # legacy blobs are 1 x 1 x out x in
        tensors[f"{name}.weight"] = FileTensor(f"layer {name!r} blobs[0]", weight_dims, weight.reshape(weight_dims))
        tensors[f"{name}.bias"] = FileTensor(f"layer {name!r} blobs[1]", bias_dims, bias.ravel())
    _require(tensors, path, _layer_names())
    return VGGFaceFile("caffe", tensors, VGG_FACE_RGB_MEAN, bgr=True)


def _without_leading_ones(dims: tuple[int, ...], keep: int) -> tuple[int, ...]:
    while len(dims) > keep and dims[0] == 1:
        dims = dims[1:]
    return dims


def _protobuf_fields(data: bytes, start: int, end: int, partial: bool = False) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) of each field of the message in data[start:end].
    Varint/fixed values span their bytes; with `partial`, a field that runs past `end` ends the walk."""
    position = start
    while position < end:
        tag, position = _varint(data, position)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            _, after = _varint(data, position)
        elif wire == 1:
            after = position + 8
        elif wire == 2:
            length, position = _varint(data, position)
            after = position + length
        elif wire == 5:
            after = position + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if after > end:
            if partial:
                yield number, wire, position, after
                return
            raise ValueError("truncated protobuf message")
        yield number, wire, position, after
        position = after


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _caffe_layers(data: bytes) -> Iterator[tuple[str, list[tuple[np.ndarray, tuple[int, ...]]]]]:
    """(name, [(values, dims) per blob]) of every layer of a NetParameter (V1 `layers` or `layer`)."""
    layer_fields = {2: (4, 6), 100: (1, 7)}  # NetParameter field -> (name field, blobs field)
    for number, wire, start, end in _protobuf_fields(data, 0, len(data)):
        if wire != 2 or number not in layer_fields:
            continue
        name_field, blobs_field = layer_fields[number]
        name, blobs = "", []
        for field, field_wire, value_start, value_end in _protobuf_fields(data, start, end):
            if field == name_field and field_wire == 2:
                name = data[value_start:value_end].decode("utf8", "replace")
            elif field == blobs_field and field_wire == 2:
                blobs.append(_caffe_blob(data, value_start, value_end))
        yield name, blobs


def _caffe_blob(data: bytes, start: int, end: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """BlobProto: data (5, float) or double_data (8), shape (7, BlobShape.dim = 1) or num/channels/height/width."""
    legacy = {1: 1, 2: 1, 3: 1, 4: 1}
    shape: list[int] = []
    chunks: list[np.ndarray] = []
    for field, wire, value_start, value_end in _protobuf_fields(data, start, end):
        if field in legacy and wire == 0:
            legacy[field] = _varint(data, value_start)[0]
        elif field == 7 and wire == 2:
            for dim_field, dim_wire, dim_start, dim_end in _protobuf_fields(data, value_start, value_end):
                if dim_field == 1 and dim_wire == 2:  # packed
                    position = dim_start
                    while position < dim_end:
                        dim, position = _varint(data, position)
                        shape.append(dim)
                elif dim_field == 1 and dim_wire == 0:
                    shape.append(_varint(data, dim_start)[0])
        elif field == 5:
            chunks.append(np.frombuffer(data, "<f4", (value_end - value_start) // 4, value_start))
        elif field == 8:
            chunks.append(np.frombuffer(data, "<f8", (value_end - value_start) // 8, value_start).astype(np.float32))
    values = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    dims = tuple(shape) if shape else tuple(legacy[field] for field in (1, 2, 3, 4))
    if int(np.prod(dims)) != values.size:
        raise ValueError(f"caffe blob of shape {dims} holds {values.size} values")
    return values, dims


READERS: dict[str, Callable[[Path, tuple[int, int, int]], VGGFaceFile]] = {
    "torch-dag": read_torch,
    "torch-state-dict": read_torch,
    "keras-h5": read_keras_h5,
    "matconvnet": read_matconvnet,
    "caffe": read_caffe,
}
