"""The encoder-decoder every semantic segmenter here is, and the conv block its heads share.

:class:`Segmentor` runs as mmseg's ``EncoderDecoder`` does at inference on a whole image: backbone,
optional neck, decode head, and the head's logits resized bilinearly to the input, so ``forward``
gives B x K x H x W. An auxiliary head (UperNet's FCN head) is built, so it counts in parameters as
the released tables count it, but it runs only in training, where mmseg adds its loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Segmentor", "conv_bn_relu"]


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 1) -> nn.Sequential:
    """mmcv's ``ConvModule`` with a BN norm: conv without bias (the BN has one), BN, ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def _to_input_size(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    return F.interpolate(logits, size=images.shape[2:], mode="bilinear", align_corners=False)


class Segmentor(nn.Module):
    """Backbone (four maps, strides 4..32), optional neck, decode head, optional auxiliary head."""

    def __init__(self, backbone: nn.Module, decode_head: nn.Module, neck: nn.Module | None = None,
                 auxiliary_head: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.decode_head = decode_head
        self.auxiliary_head = auxiliary_head

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(images)
        if self.neck is not None:
            features = self.neck(features)
        logits = _to_input_size(self.decode_head(features), images)
        if self.training and self.auxiliary_head is not None:
            return logits, _to_input_size(self.auxiliary_head(features), images)
        return logits
