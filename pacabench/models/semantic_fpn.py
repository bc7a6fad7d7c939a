"""Semantic FPN (Kirillov et al., CVPR 2019) in PVT's ADE20K setting, without mmseg.

PVT's and PVTv2's ADE20K configs build on mmseg's ``fpn_r50`` base: an FPN neck (256 channels, four
outputs, no extra level) and mmseg's ``FPNHead``: on each level as many 3x3 ConvModules (conv, BN,
ReLU) to 128 channels as 2x bilinear upsamplings bring it to stride 4 (at least one), the levels
summed, dropout 0.1 and a 1x1 classifier. mmseg also resizes each upsampled level to the stride-4
size before the sum; on inputs that are multiples of 32 that resize is to the size the map already
has, so it is left out here (it would only copy).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from pacabench.models.pyramid import FPN, PYRAMID_STRIDES, PyramidBackbone
from pacabench.models.segmentor import Segmentor, conv_bn_relu

__all__ = ["FPNHead", "semantic_fpn"]


def _scale_head(in_channels: int, channels: int, doublings: int) -> nn.Sequential:
    """One conv, then (conv, 2x upsample) until the level is at stride 4."""
    layers: list[nn.Module] = []
    for k in range(max(1, doublings)):
        layers.append(conv_bn_relu(in_channels if k == 0 else channels, channels, 3))
        if doublings:
            layers.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
    return nn.Sequential(*layers)


class FPNHead(nn.Module):
    """Per-level conv towers to stride 4, summed, then dropout and the per-pixel classifier."""

    def __init__(self, in_channels: Sequence[int], num_classes: int = 150, channels: int = 128,
                 strides: Sequence[int] = PYRAMID_STRIDES, dropout: float = 0.1):
        super().__init__()
        doublings = [int(math.log2(s // strides[0])) for s in strides]
        self.scale_heads = nn.ModuleList(_scale_head(c, channels, n) for c, n in zip(in_channels, doublings))
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        fused = self.scale_heads[0](features[0])
        for head, x in zip(self.scale_heads[1:], features[1:]):
            fused = fused + head(x)
        return self.conv_seg(self.dropout(fused))


def semantic_fpn(backbone: PyramidBackbone, num_classes: int = 150) -> Segmentor:
    """A backbone, an FPN neck with 256 channels and the FPN head with 128."""
    neck = FPN(list(backbone.channels), 256)
    return Segmentor(backbone, FPNHead([256] * len(backbone.channels), num_classes), neck=neck)
