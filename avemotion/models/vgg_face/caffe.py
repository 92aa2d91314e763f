"""Caffe (``caffe``): ``VGG_FACE.caffemodel``, a protobuf NetParameter (V1 ``layers`` or ``layer``; BlobProto
with ``shape`` or the legacy num/channels/height/width), read by a small wire-format reader, so that
neither caffe nor its generated protobuf classes are needed."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ...constants import VGG_FACE_RGB_MEAN
from .layout import CONV_NAMES, FC_NAMES, FileTensor, VGGFaceFile, layer_names, require_tensors


def looks_like_caffe(header: bytes) -> bool:
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
    require_tensors(tensors, path, layer_names())
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
