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
- Dense models (``det:...``, ``seg:...``; built by :mod:`pacabench.dense`): multiples of 32.

Model parameters (:data:`MODEL_PARAMS`): ``features_only`` builds a backbone in feature mode (timm's
``features_only=True``: no head, forward returns the stage maps; timm's Swin gives them channels-last,
B x h x w x C, which costs the same); ``out_indices`` picks the stages; ``clusters`` (PaCa-ViT zoo
only) overrides the clusters per stage; ``fused_attn=false`` runs every attention explicitly,
materialising its attention matrix (:mod:`pacabench.models.fused_attn`). Dense models take
``num_classes``, ``clusters`` and ``fused_attn`` (:mod:`pacabench.dense`).

Size and parameter problems raise ``ValueError`` with a one-line message; ``pacabench.targets`` turns it into a
``TargetError``.
"""
from typing import Any, Mapping, Sequence

import timm
import torch
from torch import nn

from pacabench.models import set_fused_attn  # registers the zoo
from pacabench.names import (FAMILIES, PEER_BACKBONES, RELEASED_PEER_FIGURES, ZOO_VARIANTS, Family, check_size,
                             describe, family_of)


def _bool(name: str, key: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{name}: {key} must be true or false, got {value!r}")
    return text == "true"


def _ints(name: str, key: str, value: Any, *, count: int | None, minimum: int, example: str) -> list[int]:
    """A list of ints from a YAML list or a query-string value such as ``200,200,200,0``."""
    items = value if isinstance(value, (list, tuple)) else str(value).strip().strip("[]").split(",")
    try:
        ints = [int(str(item).strip()) for item in items if not isinstance(item, bool)]
    except ValueError:
        ints = []
    if len(ints) != len(items) or not ints or (count and len(ints) != count) or min(ints) < minimum:
        how_many = {None: "integers", 1: "an integer"}.get(count, f"{count} integers")
        raise ValueError(f"{name}: {key} must be {how_many} >= {minimum} such as {example}, got {value!r}")
    return ints


MODEL_PARAMS = {
    "features_only": _bool,
    "out_indices": lambda name, key, value: _ints(name, key, value, count=None, minimum=0, example="1,2,3"),
    "clusters": lambda name, key, value: _ints(name, key, value, count=4, minimum=0, example="200,200,200,0"),
    "num_classes": lambda name, key, value: _ints(name, key, value, count=1, minimum=1, example="150")[0],
    "fused_attn": _bool,
}
"""Model parameter -> parser ``(model name, key, value) -> value`` (YAML values or query-string text)."""


def allowed_params(name: str) -> tuple[str, ...]:
    """The parameters model ``name`` takes: the PaCa-ViT zoo, any other timm model."""
    if name in ZOO_VARIANTS:
        return ("clusters", "features_only", "out_indices", "fused_attn")
    return ("features_only", "out_indices", "fused_attn")


def check_model_params(name: str, params: Mapping[str, Any], allowed: Sequence[str] | None = None) -> dict:
    """Only the given keys, parsed to JSON-able values (lists, not tuples); ValueError naming the key.
    ``allowed`` defaults to :func:`allowed_params` of ``name``."""
    allowed = allowed or allowed_params(name)
    checked = {}
    for key, value in params.items():
        if key not in allowed:
            raise ValueError(f"{name}: unknown parameter {key!r}; allowed: {', '.join(allowed)}")
        checked[key] = MODEL_PARAMS[key](name, key, value)
    if "out_indices" in checked and not checked.get("features_only"):
        raise ValueError(f"{name}: out_indices needs features_only=true")
    return checked


def create_model(name: str, **kwargs) -> nn.Module:
    """timm.create_model; a model timm cannot build in feature mode is a ValueError."""
    try:
        return timm.create_model(name, **kwargs)
    except RuntimeError as error:
        if not kwargs.get("features_only"):
            raise
        raise ValueError(f"{name} cannot be built with features_only=true: {error}") from None


def build_backbone(name: str, height: int, width: int, *, device="cpu",
                   dtype: torch.dtype = torch.float32, **params) -> nn.Module:
    """Model ``name`` (random weights, eval mode) built for H x W inputs: the classifier, or with
    ``features_only=True`` the feature backbone returning a list of stage maps; ``params`` as in
    :func:`check_model_params`."""
    check_size(name, height, width)
    options = check_model_params(name, params)
    fused_attn = options.pop("fused_attn", True)
    options = {key: tuple(value) if isinstance(value, list) else value
               for key, value in options.items() if value is not False}
    family = family_of(name)
    with torch.device(device):
        if family is not None:
            kwargs = {"img_size": (height, width)} if family.takes_img_size else {}
            model = create_model(name, **kwargs, **options)
        else:
            try:
                model = create_model(name, img_size=(height, width), **options)
            except TypeError:  # the model has no img_size option: timm defaults
                model = create_model(name, **options)
    switch_attention(name, model, fused_attn)
    return model.to(dtype=dtype).eval()


def switch_attention(name: str, model: nn.Module, fused_attn: bool) -> None:
    """Apply the ``fused_attn`` parameter; asking a model without the switch for explicit attention
    is an error rather than a measurement of something else."""
    if not set_fused_attn(model, fused_attn) and not fused_attn:
        raise ValueError(f"{name}: fused_attn=false needs attention layers with timm's fused_attn switch, "
                         f"and this model has none; drop the parameter")


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




__all__ = ["FAMILIES", "Family", "MODEL_PARAMS", "PEER_BACKBONES", "RELEASED_PEER_FIGURES", "allowed_params",
           "build_backbone", "check_model_params", "check_size", "create_model", "describe", "family_of",
           "first_stage_tokens", "switch_attention"]
