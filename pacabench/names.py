"""Every target pacabench knows by name, and what ``pacabench list`` says about it: plain data and
pure functions, no torch, timm or fvcore, so the command line answers at once. The modules that build
the targets (the zoo, backbones, dense models, operators) take their names, families, released
figures and descriptions from here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# ------------------------------------------------------------------ the PaCa-ViT zoo

# ImageNet-1k, 224 px, as released (FLOPs in GMACs). (a) convmixer_base: the released 46.7M is a typo
# of the table; the network as released has 47.66M parameters (see DESIGN.md section 3).
RELEASED_FIGURES: dict[str, dict[str, float | None]] = {
    "pacavit_tiny_p2cconv_100_0": {"top1": 80.9, "params_m": 12.2, "gmacs": 3.2},
    "pacavit_small_p2cconv_100_0": {"top1": 83.08, "params_m": 22.0, "gmacs": 5.5},
    "pacavit_small_p2cmlp_100_0": {"top1": 83.13, "params_m": 22.6, "gmacs": 5.9},
    "pacavit_convmixer_small_100": {"top1": 83.17, "params_m": 21.1, "gmacs": 5.4},
    "pacavit_base_p2cconv_100_0": {"top1": 83.96, "params_m": 46.9, "gmacs": 9.5},
    "pacavit_convmixer_base_100": {"top1": 84.22, "params_m": 46.7, "gmacs": 9.7},
    "pacavit_small_p2cconv_2_0": {"top1": 82.28, "params_m": 22.0, "gmacs": 4.7},
    "pacavit_small_p2cconv_49_0": {"top1": 82.95, "params_m": 22.0, "gmacs": 5.0},
    "pacavit_small_p2cconv_49_100": {"top1": 82.98, "params_m": 22.2, "gmacs": 5.3},
    "pacavit_small_p2cconv_100_49": {"top1": 82.87, "params_m": 22.2, "gmacs": 5.3},
    "pacavit_small_p2cconv_100": {"top1": 83.05, "params_m": 22.3, "gmacs": 5.6},
    "pacavit_small_p2cconv_100_blockwise": {"top1": 82.93, "params_m": 24.1, "gmacs": 6.1},
    "pacavit_convmixer_tiny_100": {"top1": None, "params_m": None, "gmacs": None},
    "pacavit_small_p2clinear_100_0": {"top1": None, "params_m": None, "gmacs": None},
}
ZOO_VARIANTS: list[str] = list(RELEASED_FIGURES)

# ------------------------------------------------------------------ backbone families and peers

@dataclass(frozen=True)
class Family:
    """How one backbone family is built at a size and where its first attention stage is."""

    name: str
    pattern: str          # regular expression on the timm model name
    multiple: int         # H and W must be positive multiples of this
    token_stride: int     # pixels per token side at the first attention stage
    takes_img_size: bool  # pass img_size=(H, W) to timm.create_model


FAMILIES = (
    Family("PaCa-ViT", r"^pacavit_", 32, 4, False),
    Family("Swin", r"^swin_.*_patch4_window7_", 32, 4, True),
    Family("PVTv2", r"^pvt_v2_", 32, 4, False),
    Family("ViT/DeiT", r"^(vit|deit)_.*_patch16_", 16, 16, True),
    Family("dense model", r"^(det|seg):", 32, 4, False),
)

# Released ImageNet-1k figures at 224 px (DESIGN.md section 4): params in millions, GMACs.
RELEASED_PEER_FIGURES = {
    "swin_tiny_patch4_window7_224": {"params_m": 28.3, "gmacs": 4.5},
    "swin_small_patch4_window7_224": {"params_m": 49.6, "gmacs": 8.7},
    "swin_base_patch4_window7_224": {"params_m": 87.8, "gmacs": 15.4},
    "pvt_v2_b0": {"params_m": None, "gmacs": None},
    "pvt_v2_b1": {"params_m": 14.0, "gmacs": 2.1},
    "pvt_v2_b2": {"params_m": 25.4, "gmacs": 4.0},
    "pvt_v2_b2_li": {"params_m": 22.6, "gmacs": 3.9},
    "pvt_v2_b3": {"params_m": 45.2, "gmacs": 6.9},
    "pvt_v2_b4": {"params_m": None, "gmacs": None},
    "pvt_v2_b5": {"params_m": None, "gmacs": None},
    "vit_small_patch16_224": {"params_m": None, "gmacs": None},
    "vit_base_patch16_224": {"params_m": None, "gmacs": None},
    "deit_small_patch16_224": {"params_m": 22.1, "gmacs": 4.6},
    "deit_base_patch16_224": {"params_m": 86.6, "gmacs": 17.6},
}
PEER_BACKBONES = tuple(RELEASED_PEER_FIGURES)


def family_of(name: str) -> Family | None:
    return next((family for family in FAMILIES if re.match(family.pattern, name)), None)


def check_size(name: str, height: int, width: int) -> None:
    """Raise ``ValueError`` (one line, naming the sizes allowed) if ``name``'s family cannot take H x W."""
    family = family_of(name)
    if family is None:
        return
    step = family.multiple
    if height < step or width < step or height % step or width % step:
        raise ValueError(f"{name} ({family.name}) takes sizes that are positive multiples of {step} "
                         f"(e.g. 224, 256, 512); got {height}x{width}")


def describe(name: str) -> str:
    """One line for ``pacabench list``: family, and the released ImageNet figures (224 px) where known."""
    family = family_of(name)
    figures = RELEASED_FIGURES.get(name) or RELEASED_PEER_FIGURES.get(name) or {}
    released = [f"{figures['top1']}% top-1" if figures.get("top1") else None,
                f"{figures['params_m']}M params" if figures.get("params_m") else None,
                f"{figures['gmacs']} GMACs" if figures.get("gmacs") else None]
    released = ", ".join(part for part in released if part)
    family_text = family.name if family else "timm model"
    clustering = re.search(r"_(p2cconv|p2cmlp|p2clinear|convmixer)_", name)
    if clustering:
        family_text += {"p2cconv": ", conv clustering", "p2cmlp": ", MLP clustering",
                        "p2clinear": ", linear clustering", "convmixer": ", clustering teacher"}[clustering[1]]
    sizes = f"sizes: multiples of {family.multiple}" if family else "sizes: timm defaults"
    return f"{family_text}; {sizes}" + (f"; released at 224: {released}" if released else "")


# ------------------------------------------------------------------ dense models

DET_PREFIX, SEG_PREFIX = "det:", "seg:"
SEG_CLUSTERS = [200, 200, 200, 0]


@dataclass(frozen=True)
class DenseHeadInfo:
    """What a kind of dense model is called and is built with by default (``pacabench.dense`` builds it)."""

    prefix: str                          # "det:maskrcnn", ...
    title: str
    num_classes: int
    zoo_clusters: list[int] | None       # default clusters of a zoo backbone; None: the variant's own


DENSE_HEAD_INFO = {info.prefix: info for info in (
    DenseHeadInfo("det:maskrcnn", "Mask R-CNN 1x (FPN, RPN, 1000 / 100 RoIs)", 80, None),
    DenseHeadInfo("seg:upernet", "UperNet (PPM, FPN, 512 channels; FCN auxiliary head)", 150, SEG_CLUSTERS),
    DenseHeadInfo("seg:fpn", "Semantic FPN (FPN 256, head 128)", 150, SEG_CLUSTERS),
    DenseHeadInfo("seg:paca", "PaCa segmentation head", 150, SEG_CLUSTERS),
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


def is_dense(name: str) -> bool:
    return name.startswith((DET_PREFIX, SEG_PREFIX))


def split_dense(name: str) -> tuple[DenseHeadInfo, str]:
    """The head and the backbone a dense target names (``seg:<zoo variant>`` is the PaCa head on it);
    ValueError (one line) when it names none."""
    task, _, rest = name.partition(":")
    head_name, sep, backbone = rest.partition(":")
    if sep:
        head = DENSE_HEAD_INFO.get(f"{task}:{head_name}")
        if head is None:
            raise ValueError(f"unknown dense model '{task}:{head_name}' in '{name}'; use {USAGE}")
        if not backbone:
            raise ValueError(f"'{name}' names no backbone; write {task}:{head_name}:<backbone>")
        return head, backbone
    if task == "det":
        raise ValueError(f"unknown dense model '{name}'; write det:maskrcnn:{rest or '<backbone>'}")
    if rest in ZOO_VARIANTS:  # the alias the PaCa segmenters have always had
        return DENSE_HEAD_INFO["seg:paca"], rest
    raise ValueError(f"unknown dense model '{name}'; seg:<zoo variant> is the PaCa head on a PaCa-ViT zoo "
                     f"model, on other backbones write seg:paca:{rest}, seg:upernet:{rest} or seg:fpn:{rest}")


def dense_defaults(name: str) -> dict:
    """The parameters a dense target is built with when none are given."""
    head, backbone = split_dense(name)
    defaults = {"num_classes": head.num_classes}
    if backbone in ZOO_VARIANTS and head.zoo_clusters is not None:
        defaults["clusters"] = list(head.zoo_clusters)
    return defaults


def describe_dense(name: str) -> str:
    """One line for ``pacabench list``: the model, and its released figures where known."""
    head, backbone = split_dense(name)
    text = f"{head.title}; sizes: multiples of 32"
    figures = RELEASED_DENSE_FIGURES.get(f"{head.prefix}:{backbone}")
    if figures:
        released = [f"{figures['params_m']}M params"]
        if figures["gmacs"] is not None:
            released.append(f"{figures['gmacs']} GMACs")
        text += f"; released at {figures['size'][0]}x{figures['size'][1]}: {', '.join(released)}"
    return text


# ------------------------------------------------------------------ attention operators

OPERATOR_PREFIX = "op:"
COMMON_DEFAULTS = {"stride": 4, "dim": 96, "heads": 2, "fused_attn": True}
"""Parameters every operator takes, with their defaults (pacabench.operators.spec)."""


@dataclass(frozen=True)
class OperatorInfo:
    description: str
    extra_defaults: dict


def _paca(what: str) -> OperatorInfo:
    return OperatorInfo(f"PaCa patch-to-cluster attention, {what} clustering, N tokens to M clusters "
                        f"(pacabench.models.PaCaAttention)", {"clusters": 100})


OPERATOR_INFO = {
    "paca": _paca("depthwise-conv"),
    "paca_mlp": _paca("MLP"),
    "paca_linear": _paca("linear"),
    "swin": OperatorInfo("Swin window attention, 7x7 windows (shift=true: shifted windows), grid padded "
                         "to whole windows (timm SwinTransformerBlock)", {"window": 7, "shift": False}),
    "pvt": OperatorInfo("PVTv2 spatial-reduction attention, keys/values from an R x R strided conv "
                        "(sr_ratio, default 8) (timm pvt_v2.Attention)", {"sr_ratio": 8}),
    "pvt_li": OperatorInfo("PVTv2-li linear attention, keys/values average-pooled to 7x7 "
                           "(timm pvt_v2.Attention, linear_attn=True)", {}),
    "vit": OperatorInfo("global multi-head self-attention, every token to every token "
                        "(timm vision_transformer.Attention)", {}),
}
"""Operator name -> what ``pacabench list`` says and the parameters it adds to COMMON_DEFAULTS."""


def operator_defaults(name: str) -> dict:
    """Every parameter operator ``name`` takes, with its default."""
    return {**COMMON_DEFAULTS, **OPERATOR_INFO[name].extra_defaults}
