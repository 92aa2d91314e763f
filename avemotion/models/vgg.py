"""VGG-16 with 7 outputs and the VGG-LSTM of paper 2.1, in plain torch.

The layer builder follows the classic `cfg` list + `make_layers` pattern. A width multiplier scales
every conv and fc width (1.0 = the paper's VGG-16; the demo config uses a narrow net).

VGG-Face initialisation (paper 2.1, [21]) reads a torch ``state_dict`` saved with ``torch.save`` whose
keys are the VGG-16 layer names used here (see `VGG_FACE_KEYS`): ``features.{i}.weight/bias`` for the
13 convs at the indices `make_layers` gives them (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) and
``fc6/fc7/fc8.weight/bias`` (``[4096, 512*7*7]``, ``[4096, 4096]``, ``[n, 4096]``). The original
Caffe/Lua VGG-Face converted to torch (e.g. from the MatConvNet release) maps onto these names
one to one. The last layer (fc8) is never loaded: it is re-initialised for the 7 emotions.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..constants import (
    N_CLASSES,
    VGG16_CFG,
    VGG_FC_WIDTH,
    VGG_LAST_LAYER_INIT_VARIANCE,
    VGG_LAST_LAYER_LR_MULTIPLIER,
)
from .heads import LSTMClassifier

# ImageNet/VGG-Face style per-channel normalisation of 0..255 RGB input (not paper: [20]'s mean).
RGB_MEAN = (129.19, 104.76, 93.59)  # VGG-Face training mean [21]


def scaled(width: int, multiplier: float) -> int:
    return max(1, int(round(width * multiplier)))


def make_layers(cfg: Sequence[int | str], in_channels: int = 3, width_multiplier: float = 1.0) -> nn.Sequential:
    """VGG conv trunk from its cfg list: ints are 3x3 conv+ReLU widths, "M" is a 2x2 max-pool."""
    layers: list[nn.Module] = []
    channels = in_channels
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            out_channels = scaled(int(item), width_multiplier)
            layers += [nn.Conv2d(channels, out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = out_channels
    return nn.Sequential(*layers)


def conv_output_size(input_size: int, cfg: Sequence[int | str] = VGG16_CFG) -> int:
    size = input_size
    for item in cfg:
        if item == "M":
            size //= 2
    if size < 1:
        raise ValueError(f"VGG input size {input_size} is too small for {cfg.count('M')} pools")
    return size


class VGG16(nn.Module):
    """Paper 2.1: VGG-16 whose last layer (fc8) has 7 outputs.

    Input: uint8 or float RGB images [B, 3, H, W] in 0..255; they are resized to `input_size` and
    mean-subtracted inside the model (so resizing runs on the accelerator).
    """

    def __init__(self, input_size: int = 224, width_multiplier: float = 1.0, n_classes: int = N_CLASSES,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.input_size = input_size
        self.features = make_layers(VGG16_CFG, 3, width_multiplier)
        last_conv = scaled(512, width_multiplier)
        spatial = conv_output_size(input_size)
        fc_width = scaled(VGG_FC_WIDTH, width_multiplier)
        self.fc6 = nn.Linear(last_conv * spatial * spatial, fc_width)
        self.fc7 = nn.Linear(fc_width, fc_width)
        self.fc8 = nn.Linear(fc_width, n_classes)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        init_vgg_weights(self)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        images = images.float()
        if images.shape[-1] != self.input_size or images.shape[-2] != self.input_size:
            images = nn.functional.interpolate(images, size=(self.input_size, self.input_size),
                                               mode="bilinear", align_corners=False)
        return images - self.mean

    def fc6_features(self, images: torch.Tensor) -> torch.Tensor:
        """Everything up to and including fc6 (+ReLU, dropout): what the VGG-LSTM keeps."""
        x = self.features(self.preprocess(images))
        x = torch.flatten(x, 1)
        return self.dropout(torch.relu(self.fc6(x)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.fc6_features(images)
        x = self.dropout(torch.relu(self.fc7(x)))
        return self.fc8(x)


def init_vgg_weights(model: VGG16) -> None:
    """Kaiming init for convs/fc6/fc7 (training from scratch when no VGG-Face file is given);
    paper 2.1 for fc8: N(0, variance 1e-4), bias 0."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)
    init_last_layer(model.fc8)


def init_last_layer(layer: nn.Linear, variance: float = VGG_LAST_LAYER_INIT_VARIANCE) -> None:
    """Paper 2.1: the 7-output layer ~ N(0, variance 1e-4) (std 0.01), bias 0."""
    nn.init.normal_(layer.weight, 0.0, math.sqrt(variance))
    nn.init.zeros_(layer.bias)


def vgg_param_groups(model: nn.Module, base_lr: float, last_layer: nn.Module,
                     multiplier: float = VGG_LAST_LAYER_LR_MULTIPLIER) -> list[dict]:
    """Paper 2.1: the last layer's weight and bias learn at 10x the base rate; the rest at the base.

    Each group carries `lr_multiplier` so that schedulers keep the ratio.
    """
    last_ids = {id(p) for p in last_layer.parameters()}
    base = [p for p in model.parameters() if id(p) not in last_ids]
    return [
        {"params": base, "lr": base_lr, "lr_multiplier": 1.0, "name": "base"},
        {"params": list(last_layer.parameters()), "lr": base_lr * multiplier, "lr_multiplier": multiplier,
         "name": "last_layer"},
    ]


VGG_FACE_KEYS: tuple[str, ...] = tuple(
    [f"features.{i}.{kind}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) for kind in ("weight", "bias")]
    + [f"{layer}.{kind}" for layer in ("fc6", "fc7") for kind in ("weight", "bias")]
)


def load_vgg_face_weights(model: VGG16, path: str | Path) -> list[str]:
    """Paper 2.1: initialise from VGG-Face. Loads every key of `VGG_FACE_KEYS` from a torch
    state_dict file (fc8 is skipped: it keeps its N(0, 1e-4) init). Shapes must match the model
    (width multiplier 1.0 and input 224 for the real VGG-Face). Returns the loaded keys."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state_dict (dict of tensors), got {type(state).__name__}")
    missing = [key for key in VGG_FACE_KEYS if key not in state]
    if missing:
        raise ValueError(f"{path}: VGG-Face state_dict lacks {missing[:4]}{'...' if len(missing) > 4 else ''}")
    own = model.state_dict()
    for key in VGG_FACE_KEYS:
        if tuple(state[key].shape) != tuple(own[key].shape):
            raise ValueError(f"{path}: {key} has shape {tuple(state[key].shape)}, model needs {tuple(own[key].shape)}")
    model.load_state_dict({key: state[key] for key in VGG_FACE_KEYS}, strict=False)
    return list(VGG_FACE_KEYS)


class VGGLSTM(nn.Module):
    """Paper 2.1 step 3: the fine-tuned VGG up to fc6, then LSTM(128) + FC(7), trained end to end.

    Input: [B, L, 3, H, W] face sequences (L = 16 in the paper).
    """

    def __init__(self, vgg: VGG16, hidden: int) -> None:
        super().__init__()
        self.vgg = vgg
        # layers after fc6 are dropped (fc7, fc8)
        self.vgg.fc7 = nn.Identity()
        self.vgg.fc8 = nn.Identity()
        self.head = LSTMClassifier(vgg.fc6.out_features, hidden)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        batch, length = sequences.shape[:2]
        frames = sequences.flatten(0, 1)
        if sequences.is_cuda:
            frames = frames.contiguous(memory_format=torch.channels_last)
        features = self.vgg.fc6_features(frames).view(batch, length, -1)
        return self.head(features)
