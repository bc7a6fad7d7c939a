"""UperNet (Xiao et al., ECCV 2018) as the released ADE20K segmenters build it, without mmseg.

The configuration of mmseg's ``upernet_swin`` base, which the Swin and PaCa-ViT UperNet configs use:
:class:`UPerHead` with pyramid pooling at scales 1, 2, 3, 6 on the stride-32 map, an FPN over the four
levels, 512 channels, every conv an mmcv ``ConvModule`` (conv, BN, ReLU), dropout 0.1 and a 1x1
classifier; plus :class:`FCNHead` on the stride-16 map (one 3x3 conv to 256 channels), the auxiliary
head that only trains. The released tables count the auxiliary head in parameters (Swin-T 60M and
PaCa-Tiny 41.6M are reached only with it) but not in FLOPs (mmseg's FLOP tools run the decode head
alone), which is what :class:`~pacabench.models.segmentor.Segmentor` does at inference.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pacabench.models.pyramid import PyramidBackbone
from pacabench.models.segmentor import Segmentor, conv_bn_relu

__all__ = ["FCNHead", "PyramidPooling", "UPerHead", "upernet"]


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class PyramidPooling(nn.Module):
    """PSPNet's pooling: average-pool to s x s for each scale, 1x1 ConvModule, resize back; returns
    the input and every pooled branch concatenated on channels."""

    def __init__(self, in_channels: int, channels: int, scales: Sequence[int] = (1, 2, 3, 6)):
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(scale), conv_bn_relu(in_channels, channels))
                                      for scale in scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, *(_resize(branch(x), x.shape[2:]) for branch in self.branches)], dim=1)


class UPerHead(nn.Module):
    """Pyramid pooling on the last level, lateral 1x1 + top-down sum + 3x3 on the others, all levels
    resized to stride 4 and fused by a 3x3 conv, then dropout and the per-pixel classifier."""

    def __init__(self, in_channels: Sequence[int], num_classes: int = 150, channels: int = 512,
                 pool_scales: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1):
        super().__init__()
        self.psp = PyramidPooling(in_channels[-1], channels, pool_scales)
        self.bottleneck = conv_bn_relu(in_channels[-1] + len(pool_scales) * channels, channels, 3)
        self.lateral_convs = nn.ModuleList(conv_bn_relu(c, channels) for c in in_channels[:-1])
        self.fpn_convs = nn.ModuleList(conv_bn_relu(channels, channels, 3) for _ in in_channels[:-1])
        self.fpn_bottleneck = conv_bn_relu(len(in_channels) * channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, features)]
        laterals.append(self.bottleneck(self.psp(features[-1])))
        for i in range(len(laterals) - 1, 0, -1):  # top-down: add each level to the next finer one
            laterals[i - 1] = laterals[i - 1] + _resize(laterals[i], laterals[i - 1].shape[2:])
        outs = [conv(x) for conv, x in zip(self.fpn_convs, laterals)] + [laterals[-1]]
        size = outs[0].shape[2:]
        fused = torch.cat([outs[0], *(_resize(x, size) for x in outs[1:])], dim=1)
        return self.conv_seg(self.dropout(self.fpn_bottleneck(fused)))


class FCNHead(nn.Module):
    """mmseg's FCN head as UperNet's auxiliary: one 3x3 ConvModule on level ``in_index``, dropout,
    classifier (no input concat)."""

    def __init__(self, in_channels: int, num_classes: int = 150, channels: int = 256, in_index: int = 2,
                 dropout: float = 0.1):
        super().__init__()
        self.in_index = in_index
        self.convs = conv_bn_relu(in_channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.conv_seg(self.dropout(self.convs(features[self.in_index])))


def upernet(backbone: PyramidBackbone, num_classes: int = 150) -> Segmentor:
    """A backbone with UPerHead (512 channels) and the FCN auxiliary head on its stride-16 map."""
    return Segmentor(backbone, UPerHead(backbone.channels, num_classes),
                     auxiliary_head=FCNHead(backbone.channels[2], num_classes))
