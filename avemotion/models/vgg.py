"""VGG-16 with 7 outputs and the VGG-LSTM of paper 2.1, in plain torch.

The layer builder follows the classic `cfg` list + `make_layers` pattern. A width multiplier scales
every conv and fc width (1.0 = the paper's VGG-16; the demo config uses a narrow net).

The model always takes RGB 0..255 images and subtracts its `mean` buffer (VGG-Face's [21] RGB mean
until `avemotion.models.vgg_face.load_vgg_face_weights` sets the mean of the VGG-Face file it loads;
the buffer is saved with the model's state_dict).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import nn

from ..constants import (
    N_CLASSES,
    VGG16_CFG,
    VGG_FACE_RGB_MEAN,
    VGG_FC_WIDTH,
    VGG_LAST_LAYER_INIT_VARIANCE,
    VGG_LAST_LAYER_LR_MULTIPLIER,
)
from .heads import LSTMClassifier

# "mean": subtract RGB_MEAN (VGG-Face's preprocessing, paper 2.1); "standardize": grey z-score per face.
INPUT_NORMALIZATIONS: tuple[str, ...] = ("mean", "standardize")


def scaled(width: int, multiplier: float) -> int:
    return max(1, int(round(width * multiplier)))


def make_layers(cfg: Sequence[int | str], in_channels: int = 3, width_multiplier: float = 1.0,
                batch_norm: bool = False) -> nn.Sequential:
    """VGG conv trunk from its cfg list: ints are 3x3 conv+ReLU widths, "M" is a 2x2 max-pool.
    `batch_norm` inserts BatchNorm after every conv (the VGG16-BN variant; not paper)."""
    layers: list[nn.Module] = []
    channels = in_channels
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            out_channels = scaled(int(item), width_multiplier)
            layers.append(nn.Conv2d(channels, out_channels, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
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
                 dropout: float = 0.5, batch_norm: bool = False, input_normalization: str = "mean") -> None:
        super().__init__()
        if input_normalization not in INPUT_NORMALIZATIONS:
            raise ValueError(f"input_normalization must be one of {INPUT_NORMALIZATIONS}, got {input_normalization!r}")
        self.input_size = input_size
        self.batch_norm = batch_norm
        self.input_normalization = input_normalization
        self.features = make_layers(VGG16_CFG, 3, width_multiplier, batch_norm)
        last_conv = scaled(512, width_multiplier)
        spatial = conv_output_size(input_size)
        fc_width = scaled(VGG_FC_WIDTH, width_multiplier)
        self.fc6 = nn.Linear(last_conv * spatial * spatial, fc_width)
        self.fc7 = nn.Linear(fc_width, fc_width)
        self.fc8 = nn.Linear(fc_width, n_classes)
        self.dropout = nn.Dropout(dropout)
        # Persistent: the mean of the VGG-Face file the net started from travels with its checkpoints.
        self.register_buffer("mean", torch.tensor(VGG_FACE_RGB_MEAN).view(1, 3, 1, 1))
        init_vgg_weights(self)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        images = images.float()
        if images.shape[-1] != self.input_size or images.shape[-2] != self.input_size:
            images = nn.functional.interpolate(images, size=(self.input_size, self.input_size),
                                               mode="bilinear", align_corners=False)
        if self.input_normalization == "standardize":
            # Grey, zero mean, unit variance per face: removes the colour and lighting of each clip,
            # which a net trained from scratch on a few clips otherwise learns instead of expressions.
            grey = images.mean(1, keepdim=True)
            grey = (grey - grey.mean((2, 3), keepdim=True)) / (grey.std((2, 3), keepdim=True) + 1e-3)
            return grey.expand(-1, 3, -1, -1)
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


def vgg16_from_config(config: Mapping) -> VGG16:
    """The VGG-16 that a `models.vgg_lstm` config block describes (without pretrained weights)."""
    return VGG16(int(config["input_size"]), float(config["width_multiplier"]),
                 batch_norm=bool(config.get("batch_norm", False)),
                 input_normalization=str(config.get("input_normalization", "mean")))


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
