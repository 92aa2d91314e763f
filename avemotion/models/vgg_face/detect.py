"""Which VGG-Face format a file is, from its header only: the first bytes pick the container, and the
format's own module looks at the zip directory, the HDF5 keys, the MAT variable headers or the first
protobuf layer (never the whole file)."""
from __future__ import annotations

import zipfile
from pathlib import Path

from .caffe import looks_like_caffe
from .keras_h5 import HDF5_SIGNATURE, keras_h5_format, keras_h5_missing_fc
from .matconvnet import MAT5_HEADER, MAT73_HEADER, matconvnet_format
from .torch_files import ZIP_SIGNATURE, torch_keys_format, torch_zip_format

FORMATS: tuple[str, ...] = ("torch-dag", "keras-h5", "matconvnet", "caffe", "torch-state-dict")
ACCEPTED_FILES = ("vgg_face_dag.pth (pytorch-mcn), rcmalli_vggface_tf_vgg16.h5 or its _notop_ variant "
                  "(keras-vggface), vgg_face.mat (MatConvNet), VGG_FACE.caffemodel (Caffe), or a torch "
                  "state_dict in avemotion's VGG16 layout")
HEADER_BYTES = 1 << 16


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


def missing_fc_layers(path: str | Path) -> tuple[str, ...]:
    """The layers before fc8 that a VGG-Face file lacks, from its header: fc6 and fc7 for Keras'
    `_notop_` file (loading it leaves them at their random init); none for every other format, whose
    readers refuse a file without them. ValueError as `vgg_face_format` for an unreadable file."""
    path = Path(path)
    return keras_h5_missing_fc(path) if vgg_face_format(path) == "keras-h5" else ()


def _detect(path: Path, header: bytes) -> str | None:
    if header.startswith(ZIP_SIGNATURE):
        return torch_zip_format(path, HEADER_BYTES)
    if header.startswith(HDF5_SIGNATURE):
        return keras_h5_format(path)
    if header.startswith(MAT5_HEADER):
        return matconvnet_format(path)
    if header[:1] == b"\x80":  # a pickle: torch's legacy (pre-1.6) serialisation
        return torch_keys_format(header)
    return "caffe" if looks_like_caffe(header) else None
