"""BN-Inception (Ioffe & Szegedy 2015) adapted to 34x34 one-channel audio maps, and the
Inception(v2)-LSTM of paper 2.4.

Which Inception-v2: the paper cites [24] ("Rethinking the Inception architecture"), whose
"Inception-v2" is the factorised network that became Inception-v3, but it also names the layer the
LSTM replaces the head after, "global pool", and trains the maps "as Inception-v2 on ImageNet". The
name Inception-v2 was in common use for BN-Inception (Caffe model zoo, TF-slim's `inception_v2`), the
network 2017-era Caffe users fine-tuned; that is what this module builds. Its solver in the paper
config is the one [24] gives for ImageNet training (docs/models.md).

Adaptation to 34x34 inputs (ImageNet's 224x224 stem would shrink a 34x34 map to 1x1 before the
inception modules): conv1 is a 3x3 stride-1 conv (not 7x7/2) and the first max-pool is dropped, so
the resolution runs 34 -> 17 (pool after conv2) -> 9 (3c) -> 5 (4e) -> global average pool. All ten
inception modules (3a-5b) keep the paper's widths (times the width multiplier; 1.0 = paper).
"""
from __future__ import annotations

import torch
from torch import nn

from ..constants import AUDIO_MAP_SIZE, BN_INCEPTION_MODULES, BN_INCEPTION_STEM, N_CLASSES
from .heads import LSTMClassifier
from .vgg import scaled


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """Conv (no bias) + BatchNorm + ReLU: the BN-Inception building block."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class InceptionModule(nn.Module):
    """One BN-Inception module: 1x1 | 1x1->3x3 | 1x1->3x3->3x3 | pool(->1x1 proj), concatenated.

    With stride 2 the 3x3 branches and the pool subsample and the 1x1 branch is absent ([24] 3c, 4e).
    """

    def __init__(self, in_channels: int, spec: tuple[int, int, int, int, int, str, int, int], width: float) -> None:
        super().__init__()
        n1x1, n3x3_reduce, n3x3, ndouble_reduce, ndouble, pool_type, pool_proj, stride = spec
        self.branch1x1 = conv_bn(in_channels, scaled(n1x1, width), 1) if n1x1 else None
        self.branch3x3 = nn.Sequential(
            conv_bn(in_channels, scaled(n3x3_reduce, width), 1),
            conv_bn(scaled(n3x3_reduce, width), scaled(n3x3, width), 3, stride),
        )
        self.branch_double = nn.Sequential(
            conv_bn(in_channels, scaled(ndouble_reduce, width), 1),
            conv_bn(scaled(ndouble_reduce, width), scaled(ndouble, width), 3),
            conv_bn(scaled(ndouble, width), scaled(ndouble, width), 3, stride),
        )
        pool = (nn.AvgPool2d(3, stride, padding=1, count_include_pad=False) if pool_type == "avg"
                else nn.MaxPool2d(3, stride, padding=1))
        self.branch_pool = nn.Sequential(pool, conv_bn(in_channels, scaled(pool_proj, width), 1)) if pool_proj else pool
        self.out_channels = (
            (scaled(n1x1, width) if n1x1 else 0) + scaled(n3x3, width) + scaled(ndouble, width)
            + (scaled(pool_proj, width) if pool_proj else in_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch3x3(x), self.branch_double(x), self.branch_pool(x)]
        if self.branch1x1 is not None:
            branches.insert(0, self.branch1x1(x))
        return torch.cat(branches, dim=1)


class BNInception(nn.Module):
    """Paper 2.4: Inception-v2 on single 34x34 maps with 7 outputs. Input [B, 1, 34, 34]."""

    def __init__(self, width_multiplier: float = 1.0, n_classes: int = N_CLASSES, in_channels: int = 1,
                 dropout: float = 0.4) -> None:
        super().__init__()
        conv1, conv2_reduce, conv2 = (scaled(c, width_multiplier) for c in BN_INCEPTION_STEM)
        self.stem = nn.Sequential(
            conv_bn(in_channels, conv1, 3),
            conv_bn(conv1, conv2_reduce, 1),
            conv_bn(conv2_reduce, conv2, 3),
            nn.MaxPool2d(3, 2, padding=1),
        )
        modules = []
        channels = conv2
        for _, spec in BN_INCEPTION_MODULES:
            module = InceptionModule(channels, spec, width_multiplier)
            modules.append(module)
            channels = module.out_channels
        self.inception = nn.Sequential(*modules)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = channels
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def pooled_features(self, maps: torch.Tensor) -> torch.Tensor:
        """Everything up to the "global pool" layer (what the Inception(v2)-LSTM keeps)."""
        if maps.is_cuda:
            maps = maps.contiguous(memory_format=torch.channels_last)
        return torch.flatten(self.global_pool(self.inception(self.stem(maps))), 1)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.pooled_features(maps)))


class InceptionLSTM(nn.Module):
    """Paper 2.4: layers after the global pool replaced by LSTM(128) + FC(7), over 8 maps.

    Input: [B, L, 34, 34] map sequences (L = 8 in the paper).
    """

    def __init__(self, inception: BNInception, hidden: int) -> None:
        super().__init__()
        self.inception = inception
        self.inception.fc = nn.Identity()
        self.head = LSTMClassifier(inception.feature_dim, hidden)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        batch, length = sequences.shape[:2]
        maps = sequences.reshape(batch * length, 1, AUDIO_MAP_SIZE, AUDIO_MAP_SIZE)
        features = self.inception.pooled_features(maps).view(batch, length, -1)
        return self.head(features)
