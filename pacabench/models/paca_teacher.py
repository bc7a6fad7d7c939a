"""The clustering teacher of the ``pacavit_convmixer_*`` variants.

A small ConvMixer-style CNN with a top-down pyramid that predicts the cluster logits of every PaCa
stage once, from the shared stem output, instead of a clustering module inside the blocks. Its
stage outputs are also added to the backbone's stage outputs (before ``norm{i}``). Module names
follow the official release so that ``IMNET_224_pacavit_convmixer_*.pth`` loads strictly.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PaCaTeacher"]


class Residual(nn.Module):
    """x + fn(x); the official checkpoints keep the branch under ``fn``."""

    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fn(x)


def _mixer_unit(dim: int) -> nn.Sequential:
    """ConvMixer unit: residual(depthwise 7x7 'same' conv, GELU, BN), then 1x1 conv, GELU, BN."""
    return nn.Sequential(
        Residual(nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding="same", groups=dim),
            nn.GELU(),
            nn.BatchNorm2d(dim),
        )),
        nn.Conv2d(dim, dim, 1),
        nn.GELU(),
        nn.BatchNorm2d(dim),
    )


def _conv_gelu_bn(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_dim, out_dim, 1), nn.GELU(), nn.BatchNorm2d(out_dim))


class BlurDownsample(nn.Module):
    """Anti-aliased strided conv: a fixed 3x3 binomial blur (stride 1), then a 3x3 stride-2 conv."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        blur = (taps[:, None] * taps[None, :]) / 16.0
        self.register_buffer("blur_filter", blur.expand(in_dim, 1, 3, 3).clone())
        self.conv = nn.Conv2d(in_dim, out_dim, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.blur_filter, padding=1, groups=self.blur_filter.shape[0])
        return self.conv(x)


class PaCaTeacher(nn.Module):
    """Predicts the cluster logits of all four stages from the stem output.

    ``forward(x)`` takes the stem map B x C0 x H/4 x W/4 and returns ``(stage_maps, cluster_logits)``:
    the four stage outputs o_i (B x Ci x h_i x w_i, added to the backbone's stage outputs) and the
    four cluster logits B x M_i x N_i. They are logits: the attention applies the softmax over the
    tokens, as it does for logits from an in-block clustering module.
    """

    def __init__(self, embed_dims: Sequence[int], depths: Sequence[int], num_clusters: Sequence[int]):
        super().__init__()
        if len(embed_dims) != 4 or len(depths) != 4 or len(num_clusters) != 4:
            raise ValueError("PaCaTeacher needs four stages: embed_dims, depths and num_clusters of length 4")
        if any(m <= 0 for m in num_clusters):
            raise ValueError(f"PaCaTeacher predicts clusters for every stage; got num_clusters={list(num_clusters)}")
        for i in range(4):
            dim = embed_dims[i]
            self.add_module(f"block{i + 1}", nn.Sequential(*[_mixer_unit(dim) for _ in range(depths[i])]))
            if i < 3:
                nxt = embed_dims[i + 1]
                self.add_module(f"transition{i + 1}", nn.Sequential(
                    BlurDownsample(dim, nxt), nn.GELU(), nn.BatchNorm2d(nxt)))
                self.add_module(f"lateral{i + 1}", _conv_gelu_bn(nxt, dim))
                self.add_module(f"fpn{i + 1}", _mixer_unit(dim))
            self.add_module(f"to_clusters{i + 1}", nn.Conv2d(dim, num_clusters[i], 1))

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        stage_maps = []
        for i in range(1, 5):
            x = getattr(self, f"block{i}")(x)
            stage_maps.append(x)
            if i < 4:
                x = getattr(self, f"transition{i}")(x)
        pyramid = [stage_maps[3]]
        top = stage_maps[3]
        for i in (3, 2, 1):
            below = stage_maps[i - 1]
            up = F.interpolate(top, size=(below.shape[2], below.shape[3]), mode="bilinear", align_corners=False)
            top = getattr(self, f"fpn{i}")(below + getattr(self, f"lateral{i}")(up))
            pyramid.insert(0, top)
        logits = [getattr(self, f"to_clusters{i + 1}")(f).flatten(2) for i, f in enumerate(pyramid)]
        return stage_maps, logits
