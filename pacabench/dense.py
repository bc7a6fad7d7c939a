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
from pacabench.models import ZOO_VARIANTS
from pacabench.models.mask_rcnn import MaskRCNN
from pacabench.models.paca_seg_head import paca_segmentor
from pacabench.models.pyramid import PYRAMID_STRIDES, PyramidBackbone
from pacabench.models.semantic_fpn import semantic_fpn
from pacabench.models.upernet import upernet

DET_PREFIX, SEG_PREFIX = "det:", "seg:"
SEG_CLUSTERS = [200, 200, 200, 0]
OUTPUT_NORM_FAMILIES = ("Swin",)
"""Families whose released detection / segmentation backbones put a LayerNorm on every output."""


@dataclass(frozen=True)
class DenseHead:
    """One kind of dense model: how to build it on a backbone and its released defaults."""

    prefix: str                          # "det:maskrcnn", ...
    title: str
    build: Callable[..., nn.Module]      # (backbone: PyramidBackbone, num_classes) -> model
    num_classes: int
    zoo_clusters: list[int] | None       # default clusters of a zoo backbone; None: the variant's own


DENSE_HEADS = {head.prefix: head for head in (
    DenseHead("det:maskrcnn", "Mask R-CNN 1x (FPN, RPN, 1000 / 100 RoIs)", MaskRCNN, 80, None),
    DenseHead("seg:upernet", "UperNet (PPM, FPN, 512 channels; FCN auxiliary head)", upernet, 150, SEG_CLUSTERS),
    DenseHead("seg:fpn", "Semantic FPN (FPN 256, head 128)", semantic_fpn, 150, SEG_CLUSTERS),
    DenseHead("seg:paca", "PaCa segmentation head", paca_segmentor, 150, SEG_CLUSTERS),
)}
USAGE = "det:maskrcnn:<backbone>, seg:upernet:<backbone>, seg:fpn:<backbone> or seg:paca:<backbone>"

# Released figures (params in millions, GMACs as the source counted them) and the input size, H x W,
# they were counted at. Sources: PaCa-ViT repo README tables; Swin-Transformer-Object-Detection and
# Swin-Transformer README tables (Mask R-CNN 1x; UperNet 160k, FLOPs at 512x2048); PVTv2 paper
# (arXiv 2106.13797): Mask R-CNN parameters only (Table 3), Semantic FPN on ADE20K at 512x512.
RELEASED_DENSE_FIGURES = {
    "det:maskrcnn:pacavit_tiny_p2cconv_100_0": {"params_m": 32.0, "gmacs": 252, "size": (800, 1280)},
    "det:maskrcnn:pacavit_small_p2cconv_100_0": {"params_m": 41.8, "gmacs": 296, "size": (800, 1280)},
    "det:maskrcnn:pacavit_small_p2cmlp_100_0": {"params_m": 42.4, "gmacs": 303, "size": (800, 1280)},
    "det:maskrcnn:pacavit_base_p2cconv_100_0": {"params_m": 66.6, "gmacs": 373, "size": (800, 1280)},
    "det:maskrcnn:swin_tiny_patch4_window7_224": {"params_m": 48, "gmacs": 267, "size": (800, 1280)},
    "det:maskrcnn:pvt_v2_b1": {"params_m": 33.7, "gmacs": None, "size": (800, 1280)},
    "det:maskrcnn:pvt_v2_b2": {"params_m": 45.0, "gmacs": None, "size": (800, 1280)},
    "seg:upernet:pacavit_tiny_p2cconv_100_0": {"params_m": 41.6, "gmacs": 229.9, "size": (512, 512)},
    "seg:upernet:pacavit_small_p2cconv_100_0": {"params_m": 51.4, "gmacs": 242.7, "size": (512, 512)},
    "seg:upernet:pacavit_base_p2cconv_100_0": {"params_m": 77.2, "gmacs": 264.1, "size": (512, 512)},
    "seg:upernet:swin_tiny_patch4_window7_224": {"params_m": 60, "gmacs": 945, "size": (512, 2048)},
    "seg:fpn:pvt_v2_b1": {"params_m": 17.8, "gmacs": 34.2, "size": (512, 512)},
    "seg:paca:pacavit_tiny_p2cconv_100_0": {"params_m": 13.3, "gmacs": 34.4, "size": (512, 512)},
    "seg:paca:pacavit_small_p2cconv_100_0": {"params_m": 23.2, "gmacs": 47.2, "size": (512, 512)},
    "seg:paca:pacavit_small_p2cmlp_100_0": {"params_m": 24.0, "gmacs": 50.0, "size": (512, 512)},
    "seg:paca:pacavit_base_p2cconv_100_0": {"params_m": 48.0, "gmacs": 68.5, "size": (512, 512)},
}
RELEASED_DENSE = tuple(RELEASED_DENSE_FIGURES)


@dataclass(frozen=True)
class DenseTarget:
    head: DenseHead
    backbone: str

    @property
    def name(self) -> str:
        """The canonical name, ``<head>:<backbone>`` (the ``seg:<zoo variant>`` alias spelled out)."""
        return f"{self.head.prefix}:{self.backbone}"


def is_dense(name: str) -> bool:
    return name.startswith((DET_PREFIX, SEG_PREFIX))


def parse_dense(name: str) -> DenseTarget:
    """The head and backbone named by a dense target; ValueError (one line) when it names none."""
    task, _, rest = name.partition(":")
    head_name, sep, backbone = rest.partition(":")
    if sep:
        head = DENSE_HEADS.get(f"{task}:{head_name}")
        if head is None:
            raise ValueError(f"unknown dense model '{task}:{head_name}' in '{name}'; use {USAGE}")
        if not backbone:
            raise ValueError(f"'{name}' names no backbone; write {task}:{head_name}:<backbone>")
        return DenseTarget(head, backbone)
    if task == "det":
        raise ValueError(f"unknown dense model '{name}'; write det:maskrcnn:{rest or '<backbone>'}")
    if rest in ZOO_VARIANTS:  # the alias the PaCa segmenters have always had
        return DenseTarget(DENSE_HEADS["seg:paca"], rest)
    raise ValueError(f"unknown dense model '{name}'; seg:<zoo variant> is the PaCa head on a PaCa-ViT zoo "
                     f"model, on other backbones write seg:paca:{rest}, seg:upernet:{rest} or seg:fpn:{rest}")


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


def dense_defaults(name: str) -> dict:
    """The parameters a dense target is built with when none are given."""
    target = parse_dense(name)
    defaults = {"num_classes": target.head.num_classes}
    if target.backbone in ZOO_VARIANTS and target.head.zoo_clusters is not None:
        defaults["clusters"] = list(target.head.zoo_clusters)
    return defaults


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


def describe_dense(name: str) -> str:
    """One line for ``pacabench list``: the model, and its released figures where known."""
    target = parse_dense(name)
    text = f"{target.head.title}; sizes: multiples of 32"
    figures = RELEASED_DENSE_FIGURES.get(target.name)
    if figures:
        released = [f"{figures['params_m']}M params"]
        if figures["gmacs"] is not None:
            released.append(f"{figures['gmacs']} GMACs")
        text += f"; released at {figures['size'][0]}x{figures['size'][1]}: {', '.join(released)}"
    return text


__all__ = ["DENSE_HEADS", "DET_PREFIX", "DenseHead", "DenseTarget", "RELEASED_DENSE", "RELEASED_DENSE_FIGURES",
           "SEG_PREFIX", "allowed_dense_params", "build_dense", "check_dense_params", "dense_defaults",
           "describe_dense", "is_dense", "parse_dense", "pyramid_indices"]
