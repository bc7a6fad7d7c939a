"""Build any backbone at a requested input size, the way its own family adapts to a new size.

Families and the sizes they take (height and width independently):
- PaCa-ViT zoo (``pacavit_*``): multiples of 32 (stride-4 stem, then three stride-2 transitions).
- Swin, patch 4 / window 7 (``swin_*_patch4_window7_*``): multiples of 32, built with
  ``img_size=(H, W)`` and window 7 kept; timm pads stage grids not divisible by 7 to whole windows
  (and shrinks the window to a grid smaller than 7), which is counted as real cost.
- PVTv2 (``pvt_v2_*``): multiples of 32; no position embeddings, so any such size is the same model
  (the first stage's 8x8 reduction conv needs at least 32 px).
- ViT / DeiT, patch 16 (``vit_*_patch16_*``, ``deit_*_patch16_*``): multiples of 16, built with
  ``img_size=(H, W)`` so timm sizes the position embeddings for that grid.
- Any other timm model: timm defaults, ``img_size=(H, W)`` when the model accepts it; no size check.

Size problems raise ``ValueError`` with a one-line message; ``pacabench.targets`` turns it into a
``TargetError``.
"""
import re
from dataclasses import dataclass

import timm
import torch
from torch import nn

from pacabench.models import RELEASED_FIGURES  # importing pacabench.models registers the zoo in timm


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


def build_backbone(name: str, height: int, width: int, *, device="cpu",
                   dtype: torch.dtype = torch.float32) -> nn.Module:
    """The classification model ``name`` (random weights, eval mode) built for H x W inputs."""
    check_size(name, height, width)
    family = family_of(name)
    with torch.device(device):
        if family is not None:
            kwargs = {"img_size": (height, width)} if family.takes_img_size else {}
            model = timm.create_model(name, **kwargs)
        else:
            try:
                model = timm.create_model(name, img_size=(height, width))
            except TypeError:  # the model has no img_size option: timm defaults
                model = timm.create_model(name)
    return model.to(dtype=dtype).eval()


def first_stage_tokens(name: str, height: int, width: int, model: nn.Module | None = None) -> int:
    """Tokens at the first attention stage: (H/4)(W/4) for pyramids, (H/16)(W/16) for ViT/DeiT;
    for other models the patch size of ``model.patch_embed``, else the first feature reduction."""
    family = family_of(name)
    if family is not None:
        stride = family.token_stride
    else:
        stride = _model_token_stride(model)
    return (height // stride) * (width // stride)


def _model_token_stride(model: nn.Module | None) -> int:
    patch_size = getattr(getattr(model, "patch_embed", None), "patch_size", None)
    if patch_size is not None:
        return patch_size[0] if isinstance(patch_size, (tuple, list)) else int(patch_size)
    feature_info = getattr(model, "feature_info", None)
    if feature_info:
        return int(feature_info[0]["reduction"])
    return 1


def describe(name: str) -> str:
    """One line for ``pacabench list``: family, and the released 224-px figures where known."""
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


__all__ = ["FAMILIES", "PEER_BACKBONES", "RELEASED_PEER_FIGURES", "build_backbone",
           "check_size", "describe", "family_of", "first_stage_tokens"]
