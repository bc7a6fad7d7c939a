"""The PaCa semantic-segmentation head, as a plain nn.Module (no mmseg).

The number of clusters is the number of classes K: each class is a learned cluster of the fused
stride-4 features, and every pixel attends to the K class clusters. Used with a PaCa-ViT feature
backbone (``features_only=True, clusters=[200, 200, 200, 0]``) to reproduce the released
segmentation complexity figures (PaCa-Tiny + head at 512 x 512, 150 classes: 13.3M parameters).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pacabench.models.pyramid import PyramidBackbone
from pacabench.models.segmentor import Segmentor, conv_bn_relu

__all__ = ["PaCaSegHead", "paca_segmentor"]


class LinearBnReLU(nn.Module):
    """Linear on tokens B x K x C_in, then BatchNorm over the channels, then ReLU."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.linear(x).transpose(1, 2)).transpose(1, 2))


class PaCaSegHead(nn.Module):
    """PaCa decode head: K class clusters, pixel-to-cluster attention, per-pixel classifier.

    ``forward(features)`` takes the backbone's four maps (strides 4..32) and returns the segmentation
    logits B x K x H/4 x W/4; ``forward_with_cluster_logits`` also returns the cluster logits
    B x K x H/4 x W/4 that training supervises with an auxiliary loss.
    """

    def __init__(self, in_channels: Sequence[int] = (96, 192, 320, 384), num_classes: int = 150,
                 channels: int = 256, dropout: float = 0.1):
        super().__init__()
        self.num_classes = num_classes
        fused = channels * len(in_channels)
        self.convs = nn.ModuleList([conv_bn_relu(c, channels) for c in in_channels])
        self.q = conv_bn_relu(fused, channels)
        self.clustering = nn.Sequential(conv_bn_relu(fused, channels), nn.Conv2d(channels, num_classes, 1))
        self.k = LinearBnReLU(fused, channels)
        self.v = LinearBnReLU(fused, channels)
        self.proj = conv_bn_relu(channels, channels)
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward_with_cluster_logits(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = features[0].shape[2], features[0].shape[3]
        x = torch.cat([
            F.interpolate(conv(f), size=(height, width), mode="bilinear", align_corners=False)
            if f.shape[2] != height or f.shape[3] != width else conv(f)
            for conv, f in zip(self.convs, features)
        ], dim=1)
        cluster_logits = self.clustering(x)
        assignment = cluster_logits.flatten(2).softmax(dim=-1)                 # B x K x N, over tokens
        clusters = assignment @ x.flatten(2).transpose(1, 2)                   # B x K x 4ch
        q = self.q(x).flatten(2).transpose(1, 2)                               # B x N x ch
        out = F.scaled_dot_product_attention(q, self.k(clusters), self.v(clusters), scale=1.0)
        out = out.transpose(1, 2).reshape(out.shape[0], out.shape[2], height, width)
        logits = self.conv_seg(self.dropout(self.proj(out)))
        return logits, cluster_logits

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.forward_with_cluster_logits(features)[0]


def paca_segmentor(backbone: PyramidBackbone, num_classes: int = 150) -> Segmentor:
    """A backbone and the PaCa head (the released ADE20K segmenters: 150 classes, no auxiliary head)."""
    return Segmentor(backbone, PaCaSegHead(backbone.channels, num_classes=num_classes))
