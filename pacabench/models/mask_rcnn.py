"""Mask R-CNN with FPN (He et al., ICCV 2017) in the standard 1x COCO setting, from torchvision's parts.

The layers are those of mmdet's ``mask-rcnn_r50_fpn`` config, which the Swin, PVTv2 and PaCa-ViT
detectors use: an FPN with 256 channels over the four backbone levels plus a max-pooled fifth level
(P6), the RPN head (3x3 conv, 3 anchors per position), RoIAlign to 7x7 and a box head of two shared
1024-wide FCs, RoIAlign to 14x14 and a mask head of four 3x3 convs, a 2x deconv and 80 class masks.
torchvision's ``FeaturePyramidNetwork``, ``RPNHead``, ``TwoMLPHead``, ``MaskRCNNHeads``,
``MaskRCNNPredictor`` and ``roi_align`` build them; only the box predictor is mmdet's (below).

The cost path is fixed. In a real detector, how many boxes reach the RoI heads and from which FPN
level each is pooled depend on the weights (score thresholds, NMS, box sizes); those steps also
cannot run on the meta device. The standard way to count a detector's FLOPs (mmdet's
``get_flops``) feeds the box head 1000 proposals and the mask head 100 boxes; here the RoI heads
always see exactly ``num_proposals`` (1000) and ``num_detections`` (100) boxes per image, laid out
by :func:`fixed_rois` from the image size alone, so every count is independent of the weights and
the same on ``meta`` and on a real device. Timing and memory run the same path. What this leaves
out of a real inference: anchor decoding, NMS and the final box and mask post-processing (no
multiply-accumulates). RoIAlign's bilinear sampling is not counted as MACs (fvcore and mmcv's
counters have no handle for it either); ``roi_align`` shows in a row's ``uncounted_ops``.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import torch
from torch import nn
from torchvision.models.detection.faster_rcnn import TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import roi_align
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from pacabench.models.pyramid import FPN, PYRAMID_STRIDES, PyramidBackbone

__all__ = ["BoxPredictor", "LevelRoIAlign", "MaskRCNN", "RoIHeads", "fixed_rois"]

CANONICAL_SIDE = 80
"""Side of the level-0 RoIs; level l gets 80 * 2**l px squares. mmdet assigns a RoI of side s to level
floor(log2(s / 56)) (clamped to 0..3): 80, 160, 320 and 640 lie in the middle of levels 0..3."""


@lru_cache(maxsize=64)
def _layout(height: int, width: int, count: int) -> tuple[tuple[tuple[float, float, float, float], ...], ...]:
    """Per level, the boxes (x1, y1, x2, y2) of one image: ``count`` spread evenly over the levels."""
    levels = []
    for level in range(len(PYRAMID_STRIDES)):
        n = count // len(PYRAMID_STRIDES) + (level < count % len(PYRAMID_STRIDES))
        half = CANONICAL_SIDE * 2 ** level / 2
        cols = max(1, math.ceil(math.sqrt(n * width / height)))
        rows = max(1, math.ceil(n / cols))
        centres = [((i % cols + 0.5) * width / cols, (i // cols + 0.5) * height / rows) for i in range(n)]
        levels.append(tuple((max(0.0, x - half), max(0.0, y - half), min(width, x + half), min(height, y + half))
                            for x, y in centres))
    return tuple(levels)


def fixed_rois(batch: int, height: int, width: int, count: int, *, device=None,
               dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """``count`` RoIs per image for an H x W input, made from the size alone: as many on each of the
    four levels (P2..P5), level l holding squares of side 80 * 2**l px (the size the standard rule
    pools from that level), centred on a regular grid over the image and clipped to it. Returns, per
    level, a (batch * n_level) x 5 tensor of (image index, x1, y1, x2, y2), roi_align's format, built
    from one image's boxes by tensor ops: nothing per image in Python, nothing allocated on meta."""
    levels = []
    for boxes in _layout(height, width, count):
        one = torch.tensor(boxes, device=device, dtype=dtype).reshape(-1, 4)
        images = torch.arange(batch, device=device, dtype=dtype)[:, None].expand(batch, one.shape[0]).reshape(-1)
        levels.append(torch.cat([images[:, None], one.repeat(batch, 1)], dim=1))
    return levels


class LevelRoIAlign(nn.Module):
    """RoIAlign of each group of RoIs from its level, as mmdet's RoI extractor does it (``aligned=True``,
    adaptive sampling), the groups concatenated in level order."""

    def __init__(self, output_size: int, strides: Sequence[int] = PYRAMID_STRIDES, sampling_ratio: int = 0):
        super().__init__()
        self.output_size = output_size
        self.strides = tuple(strides)
        self.sampling_ratio = sampling_ratio

    def forward(self, features: Sequence[torch.Tensor], rois: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([roi_align(x, boxes, self.output_size, 1.0 / stride, self.sampling_ratio, aligned=True)
                          for x, boxes, stride in zip(features, rois, self.strides)])


class BoxPredictor(nn.Module):
    """mmdet's ``Shared2FCBBoxHead`` outputs: K + 1 class scores (background included) and 4 box deltas
    per class, none for the background (torchvision's ``FastRCNNPredictor`` would add those 4)."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.cls_score = nn.Linear(in_features, num_classes + 1)
        self.bbox_pred = nn.Linear(in_features, num_classes * 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cls_score(x), self.bbox_pred(x)


class RoIHeads(nn.Module):
    """Box head on ``num_proposals`` RoIs and mask head on ``num_detections`` RoIs per image, both laid
    out by :func:`fixed_rois` (module docstring)."""

    def __init__(self, channels: int = 256, num_classes: int = 80, num_proposals: int = 1000,
                 num_detections: int = 100, representation: int = 1024):
        super().__init__()
        self.num_proposals = num_proposals
        self.num_detections = num_detections
        self.box_roi_pool = LevelRoIAlign(7)
        self.box_head = TwoMLPHead(channels * 7 * 7, representation)
        self.box_predictor = BoxPredictor(representation, num_classes)
        self.mask_roi_pool = LevelRoIAlign(14)
        self.mask_head = MaskRCNNHeads(channels, [channels] * 4, 1)
        self.mask_predictor = MaskRCNNPredictor(channels, channels, num_classes)
        self._rois: dict = {}

    def rois(self, features: Sequence[torch.Tensor], height: int, width: int, count: int) -> list[torch.Tensor]:
        """:func:`fixed_rois` for this batch and size, made once per layout and device."""
        x = features[0]
        key = (x.shape[0], height, width, count, x.device, x.dtype)
        if key not in self._rois:
            self._rois[key] = fixed_rois(x.shape[0], height, width, count, device=x.device, dtype=x.dtype)
        return self._rois[key]

    def forward(self, features: Sequence[torch.Tensor], height: int, width: int):
        """``(class_logits, box_deltas, mask_logits)`` for the P2..P5 maps of an H x W input."""
        proposals = self.rois(features, height, width, self.num_proposals)
        class_logits, box_deltas = self.box_predictor(self.box_head(self.box_roi_pool(features, proposals)))
        detections = self.rois(features, height, width, self.num_detections)
        mask_logits = self.mask_predictor(self.mask_head(self.mask_roi_pool(features, detections)))
        return class_logits, box_deltas, mask_logits


class MaskRCNN(nn.Module):
    """``backbone`` (four maps, strides 4..32), ``neck`` (FPN + P6), ``rpn`` (RPN head on P2..P6) and
    ``roi_heads``. ``forward`` returns ``(objectness, anchor_deltas, class_logits, box_deltas,
    mask_logits)``: the RPN outputs per level, then the RoI heads' outputs on the fixed RoIs."""

    def __init__(self, backbone: PyramidBackbone, num_classes: int = 80, channels: int = 256,
                 num_proposals: int = 1000, num_detections: int = 100):
        super().__init__()
        self.backbone = backbone
        self.neck = FPN(list(backbone.channels), channels, extra_blocks=LastLevelMaxPool())
        self.rpn = RPNHead(channels, num_anchors=3)
        self.roi_heads = RoIHeads(channels, num_classes, num_proposals, num_detections)

    def forward(self, images: torch.Tensor):
        features = self.neck(self.backbone(images))
        objectness, anchor_deltas = self.rpn(features)
        height, width = int(images.shape[2]), int(images.shape[3])
        return (objectness, anchor_deltas, *self.roi_heads(features[:len(PYRAMID_STRIDES)], height, width))
