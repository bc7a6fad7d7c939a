"""The two pieces every dense model here shares: a feature-pyramid backbone and an FPN neck.

:class:`PyramidBackbone` turns a feature-mode model (a PaCa-ViT zoo model with ``features_only=True``
or any timm ``features_only`` model) into what the necks and heads of mmdet / mmseg expect: four
B x C x H/s x W/s maps, s = 4, 8, 16, 32. timm's Swin returns its maps channels-last (B x h x w x C);
they are permuted here, which moves data but does no multiply-accumulate. The released Swin detection
and segmentation backbones put a LayerNorm on every output (``norm0`` .. ``norm3`` in mmdet's and
mmseg's ``SwinTransformer``), which timm's feature mode lacks: ``out_norms=True`` adds them.

:class:`FPN` is torchvision's ``FeaturePyramidNetwork`` (1x1 lateral and 3x3 output convs with bias,
nearest top-down upsampling: the same layers as mmdet's and mmseg's ``FPN``) taking and returning
lists instead of ordered dicts.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.ops import FeaturePyramidNetwork

__all__ = ["FPN", "PYRAMID_STRIDES", "PyramidBackbone"]

PYRAMID_STRIDES = (4, 8, 16, 32)


class PyramidBackbone(nn.Module):
    """``body`` (a feature-mode model returning the four pyramid maps) with NCHW outputs."""

    def __init__(self, body: nn.Module, out_norms: bool = False):
        super().__init__()
        self.body = body
        self.channels = tuple(body.feature_info.channels())
        reductions = tuple(body.feature_info.reduction())
        if reductions != PYRAMID_STRIDES:
            raise ValueError(f"a pyramid backbone needs maps at strides {PYRAMID_STRIDES}, got {reductions}")
        self.channels_last = getattr(body, "output_fmt", "NCHW") == "NHWC"
        self.norms = nn.ModuleList(nn.LayerNorm(c) for c in self.channels) if out_norms else None

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        for i, x in enumerate(self.body(images)):
            if self.norms is not None:  # LayerNorm over channels, on channels-last maps
                x = self.norms[i](x if self.channels_last else x.permute(0, 2, 3, 1))
                x = x.permute(0, 3, 1, 2)
            elif self.channels_last:
                x = x.permute(0, 3, 1, 2)
            maps.append(x.contiguous())
        return maps


class FPN(FeaturePyramidNetwork):
    """torchvision's FPN on a list of maps (finest first); returns the output maps as a list."""

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        named = OrderedDict((str(i), x) for i, x in enumerate(features))
        return list(super().forward(named).values())
