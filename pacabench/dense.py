"""Dense-prediction targets: a detector or a segmenter on any backbone with a pyramid feature mode.

Names: ``det:maskrcnn:<backbone>`` (Mask R-CNN 1x), ``seg:upernet:<backbone>`` (UperNet),
``seg:fpn:<backbone>`` (Semantic FPN) and ``seg:paca:<backbone>`` (the PaCa head); ``seg:<zoo variant>``
is ``seg:paca:<zoo variant>``. The backbone is a PaCa-ViT zoo variant or a timm model whose feature
mode gives one map at each of the strides 4, 8, 16 and 32 (Swin, PVTv2, ResNet, ConvNeXt, ...; Swin
gets the LayerNorm on each output its released dense backbones have).

Parameters: ``num_classes`` (80 for detection, 150 for ADE20K segmentation), ``fused_attn``, and for a
zoo backbone ``clusters``. Its default is what the released configs use: the released Mask R-CNN
configs keep the variant's own clusters ([100, 100, 100, 0]; their parameter counts, e.g. Small 41.8M,
are reached only so), the released segmenters set [200, 200, 200, 0].

Problems raise ``ValueError`` with a one-line message; :mod:`pacabench.targets` turns it into a
``TargetError``. Models live in :mod:`pacabench.models` (``mask_rcnn``, ``upernet``, ``semantic_fpn``,
``paca_seg_head``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping

import torch
from torch import nn

from pacabench.backbones import (build_backbone, check_model_params, check_size, create_model, family_of,
                                 switch_attention)
from pacabench.models.mask_rcnn import MaskRCNN
from pacabench.models.paca_seg_head import paca_segmentor
from pacabench.models.pyramid import PYRAMID_STRIDES, PyramidBackbone
from pacabench.models.semantic_fpn import semantic_fpn
from pacabench.models.upernet import upernet
from pacabench.names import (DENSE_HEAD_INFO, DET_PREFIX, RELEASED_DENSE, RELEASED_DENSE_FIGURES, SEG_PREFIX,
                             ZOO_VARIANTS, DenseHeadInfo, dense_defaults, describe_dense, is_dense, split_dense)

OUTPUT_NORM_FAMILIES = ("Swin",)
"""Families whose released detection / segmentation backbones put a LayerNorm on every output."""


BUILDERS = {"det:maskrcnn": MaskRCNN, "seg:upernet": upernet, "seg:fpn": semantic_fpn, "seg:paca": paca_segmentor}
"""How each kind of dense model (pacabench.names.DENSE_HEAD_INFO) is built on a backbone."""


@dataclass(frozen=True)
class DenseHead(DenseHeadInfo):
    """One kind of dense model: its name and released defaults, and how to build it on a backbone."""

    build: Callable[..., nn.Module] | None = None   # (backbone: PyramidBackbone, num_classes) -> model


DENSE_HEADS = {prefix: DenseHead(**vars(info), build=BUILDERS[prefix]) for prefix, info in DENSE_HEAD_INFO.items()}


@dataclass(frozen=True)
class DenseTarget:
    head: DenseHead
    backbone: str

    @property
    def name(self) -> str:
        """The canonical name, ``<head>:<backbone>`` (the ``seg:<zoo variant>`` alias spelled out)."""
        return f"{self.head.prefix}:{self.backbone}"


def parse_dense(name: str) -> DenseTarget:
    """The head and backbone named by a dense target; ValueError (one line) when it names none."""
    info, backbone = split_dense(name)
    return DenseTarget(DENSE_HEADS[info.prefix], backbone)


@lru_cache(maxsize=None)
def pyramid_indices(backbone: str) -> tuple[int, ...]:
    """The feature indices of ``backbone`` at strides 4, 8, 16, 32 (the last map of each stride);
    ValueError naming the strides it has when it lacks one (e.g. ViT: all at 16)."""
    if backbone in ZOO_VARIANTS:
        return tuple(range(len(PYRAMID_STRIDES)))
    with torch.device("meta"):
        reductions = create_model(backbone, features_only=True).feature_info.reduction()
    last = {stride: i for i, stride in enumerate(reductions)}
    if not set(PYRAMID_STRIDES) <= set(last):
        raise ValueError(f"{backbone} has no pyramid feature mode: its feature maps have strides "
                         f"{', '.join(map(str, reductions))}, and the dense heads need one map at each of "
                         f"4, 8, 16 and 32 (as PaCa-ViT, Swin, PVTv2, ResNet or ConvNeXt give)")
    return tuple(last[stride] for stride in PYRAMID_STRIDES)


def allowed_dense_params(target: DenseTarget) -> tuple[str, ...]:
    if target.backbone in ZOO_VARIANTS:
        return ("clusters", "num_classes", "fused_attn")
    return ("num_classes", "fused_attn")


def check_dense_params(name: str, params: Mapping) -> dict:
    """Only the given keys, parsed (as :func:`pacabench.backbones.check_model_params` does)."""
    return check_model_params(name, params, allowed=allowed_dense_params(parse_dense(name)))





def _pyramid_backbone(backbone: str, height: int, width: int, device, clusters: list[int] | None) -> PyramidBackbone:
    params = {"features_only": True, "out_indices": list(pyramid_indices(backbone))}
    if clusters is not None:
        params["clusters"] = clusters
    body = build_backbone(backbone, height, width, device=device, **params)
    family = family_of(backbone)
    with torch.device(device):
        return PyramidBackbone(body, out_norms=family is not None and family.name in OUTPUT_NORM_FAMILIES)


def build_dense(name: str, height: int, width: int, *, device="cpu", dtype: torch.dtype = torch.float32,
                **params) -> nn.Module:
    """The dense model ``name`` (random weights, eval mode) for H x W inputs; its top-level children
    are its parts: ``backbone``, ``neck`` where it has one, and its heads."""
    target = parse_dense(name)
    check_size(name, height, width)
    options = {**dense_defaults(name), **check_dense_params(name, params)}
    backbone = _pyramid_backbone(target.backbone, height, width, device, options.get("clusters"))
    with torch.device(device):
        model = target.head.build(backbone, num_classes=options["num_classes"])
    switch_attention(name, model, options.get("fused_attn", True))
    return model.to(dtype=dtype).eval()


__all__ = ["DENSE_HEADS", "DET_PREFIX", "DenseHead", "DenseTarget", "RELEASED_DENSE", "RELEASED_DENSE_FIGURES",
           "SEG_PREFIX", "allowed_dense_params", "build_dense", "check_dense_params", "dense_defaults",
           "describe_dense", "is_dense", "parse_dense", "pyramid_indices"]
