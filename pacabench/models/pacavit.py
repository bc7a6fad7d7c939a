"""PaCa-ViT: Patch-to-Cluster attention vision transformers (Grainger et al., CVPR 2023, arXiv 2203.11987).

The same network as the official release, module for module, so that the released
``IMNET_224_<variant>.pth`` state dicts load with ``strict=True``; attention runs through
``F.scaled_dot_product_attention`` instead of the official ``multi_head_attention_forward(need_weights=True)``.

Layout (timm style): layers and blocks, then :class:`PaCaViT`, then pretrained cfgs and the
``@register_model`` entry points of the 14 variants (``timm.create_model(name)`` works once
``pacabench`` is imported).

Feature mode: timm's ``features_only=True`` (+ ``out_indices``) keyword, implemented inside
:class:`PaCaViT` itself rather than by timm's feature wrappers, so that a feature backbone's state-dict
keys are the official downstream keys (no ``model.`` prefix, no head). ``forward`` then returns the
post-norm stage maps B x Ci x H/s x W/s (s = 4, 8, 16, 32) selected by ``out_indices``. The per-stage
cluster counts can be overridden with ``clusters=[...]`` (the released segmentation backbones use
``[200, 200, 200, 0]``)::

    timm.create_model("pacavit_tiny_p2cconv_100_0", features_only=True, clusters=[200, 200, 200, 0])

Interpretability maps: the cluster assignments (B x M x N, softmax over tokens) and attention maps
(B x h x N x M) are computed only on request, by :meth:`PaCaViT.forward_with_maps` (or
``set_record_maps(True)``), which switches every attention to the explicit softmax(q k^T / sqrt(d)) v path.

Released weights: ``pacabench.models.load_checkpoint(model, "IMNET_224_<variant>.pth")``, or timm's
``timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=path))`` (cfg urls are
empty: nothing is downloaded).

Inputs: any H, W that are multiples of 32 (square or not); others raise ValueError.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import DropPath, LayerNorm2d, trunc_normal_
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._features import FeatureInfo

from pacabench.models.paca_teacher import PaCaTeacher
from pacabench.names import RELEASED_FIGURES, ZOO_VARIANTS

__all__ = ["PaCaViT", "PaCaAttention", "PaCaBlock", "ZOO_VARIANTS", "RELEASED_FIGURES", "check_input_size"]

INPUT_MULTIPLE = 32


def check_input_size(height: int, width: int) -> None:
    """PaCa-ViT downsamples by 32 in five stride-2 steps: H and W must be multiples of 32."""
    with warnings.catch_warnings():
        # under torch.jit.trace (fvcore) the sizes are traced values and this check becomes a
        # constant of the traced graph, which is what we want: silence the TracerWarning about it.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        if height > 0 and width > 0 and height % INPUT_MULTIPLE == 0 and width % INPUT_MULTIPLE == 0:
            return
    raise ValueError(
        f"input size {height}x{width} is not supported by PaCa-ViT: height and width must be "
        f"positive multiples of {INPUT_MULTIPLE} (e.g. 224x224, 256x320, 1280x800)"
    )


def _tokens_to_grid(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """B x N x C tokens -> B x C x H x W map."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], height, width)


def _grid_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """B x C x H x W map -> B x N x C tokens."""
    return x.flatten(2).transpose(1, 2)


# --------------------------------------------------------------------------------------------------
# Clustering modules: tokens B x N x C -> cluster logits B x M x N (state-dict prefix clustering.<i>)
# --------------------------------------------------------------------------------------------------

class ConvClustering(nn.Module):
    """"p2cconv": depthwise 7x7 conv, GELU, 1x1 conv, GELU, 1x1 conv to M (no bias), on the grid."""

    def __init__(self, dim: int, num_clusters: int):
        super().__init__()
        self.clustering = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            nn.GELU(),
            nn.Conv2d(dim, dim, 1),
            nn.GELU(),
            nn.Conv2d(dim, num_clusters, 1, bias=False),
        )

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return self.clustering(_tokens_to_grid(x, height, width)).flatten(2)


class MlpClustering(nn.Module):
    """"p2cmlp": Linear(C, 4C), GELU, Linear(4C, M), on the tokens."""

    def __init__(self, dim: int, num_clusters: int):
        super().__init__()
        self.clustering = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, num_clusters))

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return self.clustering(x).transpose(1, 2)


class LinearClustering(nn.Module):
    """"p2clinear": one Linear(C, M, bias=False) on the tokens (not in the paper's tables)."""

    def __init__(self, dim: int, num_clusters: int):
        super().__init__()
        self.clustering = nn.Sequential(nn.Linear(dim, num_clusters, bias=False))

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return self.clustering(x).transpose(1, 2)


CLUSTERINGS = {"conv": ConvClustering, "mlp": MlpClustering, "linear": LinearClustering}


# --------------------------------------------------------------------------------------------------
# Attention, MLP, block
# --------------------------------------------------------------------------------------------------

class PaCaAttention(nn.Module):
    """Patch-to-cluster attention: N patch queries attend to M cluster tokens.

    ``clustering`` picks the module that computes the cluster logits ("conv", "mlp", "linear");
    ``None`` means the block reuses logits ``z`` given to ``forward`` (from block 0 of its stage or from
    the teacher). ``num_clusters == 0`` gives plain global self-attention (cluster tokens = tokens).

    ``forward(x, H, W, z=None) -> (out, z_raw)``: ``z_raw`` (B x M x N logits, or None when M == 0) is
    what a later block may reuse. ``fused_attn`` (timm's switch of the same name) picks
    ``F.scaled_dot_product_attention`` (True) or the explicit softmax(q k^T / sqrt(d)) v path that
    materialises the B x h x N x M weights (False, as the official code does). With
    ``record_maps = True`` the explicit path runs and ``last_maps`` holds
    ``{"cluster_assignment": B x M x N or None, "attention": B x h x N x M}``.
    """

    def __init__(self, dim: int, num_heads: int, num_clusters: int, clustering: str | None = "conv"):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        if clustering is not None and clustering not in CLUSTERINGS:
            raise ValueError(f"clustering must be one of {sorted(CLUSTERINGS)} or None, got {clustering!r}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.num_clusters = num_clusters
        if num_clusters > 0:
            self.cluster_norm = nn.LayerNorm(dim, eps=1e-6)
            self.clustering = CLUSTERINGS[clustering](dim, num_clusters) if clustering is not None else None
        else:
            self.cluster_norm = None
            self.clustering = None
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.fused_attn = True
        self.record_maps = False
        self.last_maps: dict[str, torch.Tensor | None] | None = None

    def forward(
        self, x: torch.Tensor, height: int, width: int, z: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, num_tokens, dim = x.shape
        assignment = None
        if self.num_clusters > 0:
            if self.clustering is not None:
                z = self.clustering(x, height, width)
            elif z is None:
                raise ValueError("this PaCaAttention has no clustering module: pass the cluster logits z to reuse")
            assignment = z.softmax(dim=-1)  # over the N tokens: each cluster is a convex combination of tokens
            context = self.cluster_norm(assignment @ x)
        else:
            z = None
            context = x
        heads, head_dim = self.num_heads, self.head_dim
        q = self.q(x).reshape(batch, num_tokens, heads, head_dim).transpose(1, 2)
        k = self.k(context).reshape(batch, -1, heads, head_dim).transpose(1, 2)
        v = self.v(context).reshape(batch, -1, heads, head_dim).transpose(1, 2)
        if self.fused_attn and not self.record_maps:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            attention = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            out = attention @ v
            if self.record_maps:
                self.last_maps = {"cluster_assignment": assignment, "attention": attention}
        out = out.transpose(1, 2).reshape(batch, num_tokens, dim)
        return self.proj(out), z


class DWConv(nn.Module):
    """Depthwise 3x3 conv on the token grid, added to its input."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return x + _grid_to_tokens(self.dwconv(_tokens_to_grid(x, height, width)))


class Mlp(nn.Module):
    """fc1, depthwise-conv shortcut, GELU (exact), fc2."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = DWConv(hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x), height, width)))


class PaCaBlock(nn.Module):
    """Pre-norm transformer block with PaCa attention; passes the cluster logits on."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        num_clusters: int,
        clustering: str | None,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm1_before = nn.LayerNorm(dim, eps=1e-6)
        self.attn = PaCaAttention(dim, num_heads, num_clusters, clustering)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2_before = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(
        self, x: torch.Tensor, height: int, width: int, z: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_out, z = self.attn(self.norm1_before(x), height, width, z)
        x = x + self.drop_path(attn_out)
        x = x + self.drop_path(self.mlp(self.norm2_before(x), height, width))
        return x, z


class ConvStem(nn.Module):
    """Two 3x3 stride-2 convs (no activation between), then a channels-first LayerNorm: stride 4."""

    def __init__(self, in_chans: int, dim: int):
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_chans, dim // 2, 3, stride=2, padding=1),
            nn.Conv2d(dim // 2, dim, 3, stride=2, padding=1),
        )
        self.norm = LayerNorm2d(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class Transition(nn.Module):
    """3x3 stride-2 conv between stages, then a channels-first LayerNorm."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_dim, out_dim, 3, stride=2, padding=1)
        self.norm = LayerNorm2d(out_dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


def _computes_clusters(block_index: int, onsite: int) -> bool:
    """The "where" rule: block 0 always; 0 = stage-wise, 1 = every block, k >= 2 = every k-th block."""
    if block_index == 0 or onsite == 1:
        return True
    return onsite >= 2 and block_index % onsite == 0


def _per_stage(value, name: str) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else [value] * 4
    if len(values) != 4:
        raise ValueError(f"{name} needs one value per stage (4), got {values}")
    return values


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------

class PaCaViT(nn.Module):
    """PaCa-ViT backbone and classifier.

    Args:
        clusters: clusters per stage (0 = global self-attention in that stage).
        clustering: "conv" | "mlp" | "linear" (in-block clustering modules) or "teacher" (one
            :class:`PaCaTeacher` predicts every stage's clusters; all stages need clusters > 0).
        onsite: where clusters are computed, per stage or one value for all: 0 = block 0 of the stage
            only (stage-wise), 1 = every block (block-wise), k >= 2 = blocks whose index is divisible by k.
        teacher_depths: mixer units per teacher stage (teacher variants only).
        features_only / out_indices: feature mode (no head; forward returns the selected stage maps).
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dims: Sequence[int] = (96, 192, 320, 384),
        num_heads: Sequence[int] = (2, 4, 8, 16),
        depths: Sequence[int] = (2, 2, 4, 2),
        clusters: Sequence[int] = (100, 100, 100, 0),
        clustering: str = "conv",
        onsite: int | Sequence[int] = 0,
        teacher_depths: Sequence[int] = (2, 2, 2, 2),
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
        features_only: bool = False,
        out_indices: Sequence[int] = (0, 1, 2, 3),
    ):
        super().__init__()
        embed_dims = _per_stage(embed_dims, "embed_dims")
        num_heads = _per_stage(num_heads, "num_heads")
        depths = _per_stage(depths, "depths")
        clusters = _per_stage(clusters, "clusters")
        onsite = _per_stage(onsite, "onsite")
        use_teacher = clustering == "teacher"
        if not use_teacher and clustering not in CLUSTERINGS:
            raise ValueError(f"clustering must be one of {sorted(CLUSTERINGS) + ['teacher']}, got {clustering!r}")
        if any(i not in range(4) for i in out_indices):
            raise ValueError(f"out_indices must be stage indices in 0..3, got {list(out_indices)}")
        self.embed_dims = embed_dims
        self.clusters = clusters
        self.features_only = features_only
        self.out_indices = tuple(out_indices)
        self.num_features = self.head_hidden_size = embed_dims[-1]
        self.num_classes = 0 if features_only else num_classes

        self.patch_embed = ConvStem(in_chans, embed_dims[0])
        self.paca_teacher = PaCaTeacher(embed_dims, teacher_depths, clusters) if use_teacher else None
        drop_rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        for i in range(4):
            stage_rates = drop_rates[sum(depths[:i]):sum(depths[:i + 1])]
            blocks = []
            for j in range(depths[i]):
                computes = not use_teacher and clusters[i] > 0 and _computes_clusters(j, onsite[i])
                blocks.append(PaCaBlock(embed_dims[i], num_heads[i], clusters[i],
                                        clustering if computes else None, mlp_ratio, stage_rates[j]))
            self.add_module(f"stage{i + 1}", nn.ModuleList(blocks))
            self.add_module(f"norm{i + 1}", nn.LayerNorm(embed_dims[i], eps=1e-6))
            if i < 3:
                self.add_module(f"transition{i + 1}", Transition(embed_dims[i], embed_dims[i + 1]))

        self.feature_info = [
            dict(num_chs=embed_dims[i], reduction=4 * 2 ** i, module=f"norm{i + 1}") for i in range(4)
        ]
        if features_only:
            self.feature_info = FeatureInfo(self.feature_info, self.out_indices)
        self.head = nn.Linear(embed_dims[-1], self.num_classes) if self.num_classes > 0 else nn.Identity()
        self.apply(_init_weights)

    # timm classifier API
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            _init_weights(self.head)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four post-norm stage maps B x Ci x H/s x W/s, s = 4, 8, 16, 32."""
        height, width = x.shape[2], x.shape[3]
        check_input_size(height, width)
        x = self.patch_embed(x)
        if self.paca_teacher is not None:
            teacher_maps, teacher_logits = self.paca_teacher(x)
        maps = []
        for i in range(4):
            h, w = height // (4 * 2 ** i), width // (4 * 2 ** i)
            tokens = _grid_to_tokens(x)
            z = teacher_logits[i] if self.paca_teacher is not None else None
            for block in getattr(self, f"stage{i + 1}"):
                tokens, z = block(tokens, h, w, z)
            if self.paca_teacher is not None:
                tokens = tokens + _grid_to_tokens(teacher_maps[i])
            x = _tokens_to_grid(getattr(self, f"norm{i + 1}")(tokens), h, w)
            maps.append(x)
            if i < 3:
                x = getattr(self, f"transition{i + 1}")(x)
        return maps

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """timm convention: the last (stride-32) post-norm map."""
        return self.forward_stages(x)[-1]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean(dim=(2, 3))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        maps = self.forward_stages(x)
        if self.features_only:
            return [maps[i] for i in self.out_indices]
        return self.forward_head(maps[-1])

    def set_record_maps(self, enabled: bool) -> None:
        """Switch every attention between SDPA (False) and the explicit path that keeps its maps."""
        for module in self.modules():
            if isinstance(module, PaCaAttention):
                module.record_maps = enabled
                module.last_maps = None

    def forward_with_maps(self, x: torch.Tensor):
        """``(output, maps)``; maps["stage{i}.{j}"] = {"cluster_assignment": B x M x N (softmax over
        tokens; None where the stage has no clusters), "attention": B x h x N x M}."""
        self.set_record_maps(True)
        try:
            out = self(x)
            maps = {name.removesuffix(".attn"): module.last_maps for name, module in self.named_modules()
                    if isinstance(module, PaCaAttention)}
        finally:
            self.set_record_maps(False)
        return out, maps


def _init_weights(module: nn.Module) -> None:
    """Linear: trunc normal 0.02, bias 0; Conv2d: normal(0, sqrt(2 / fan_out)), bias 0; norms 1 / 0."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
        module.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# --------------------------------------------------------------------------------------------------
# Pretrained cfgs, released figures and registrations
# --------------------------------------------------------------------------------------------------

def _cfg(**kwargs) -> dict:
    return {
        "url": "",  # released files are not downloadable here; load them with pacabench.models.load_checkpoint
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": (7, 7),
        "crop_pct": 0.9,
        "interpolation": "bicubic",
        "fixed_input_size": False,
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "patch_embed.proj.0",
        "classifier": "head",
        "paper_ids": "arXiv:2203.11987",
        "paper_name": "PaCa-ViT: Learning Patch-to-Cluster Attention in Vision Transformers",
        "origin_url": "https://github.com/iVMCL/PaCaViT",
        **kwargs,
    }


# The registered names and their released ImageNet figures: pacabench.names (plain data, so the
# command line lists the zoo without importing torch).

default_cfgs = generate_default_cfgs({name: _cfg() for name in ZOO_VARIANTS})

_TINY = dict(embed_dims=(96, 192, 320, 384), depths=(2, 2, 4, 2), drop_path_rate=0.1)
_SMALL = dict(embed_dims=(96, 192, 320, 384), depths=(3, 3, 10, 3), drop_path_rate=0.1)
_BASE = dict(embed_dims=(96, 192, 384, 512), depths=(3, 3, 18, 3), drop_path_rate=0.5)


def _create_pacavit(variant: str, pretrained: bool = False, **kwargs) -> PaCaViT:
    # Feature mode is built into PaCaViT (keys stay the official downstream keys), so take it away
    # from timm's builder, which would otherwise wrap the model in a feature extractor.
    features_only = kwargs.pop("features_only", False)
    out_indices = tuple(kwargs.pop("out_indices", (0, 1, 2, 3)))

    def model_cls(**model_kwargs) -> PaCaViT:
        return PaCaViT(features_only=features_only, out_indices=out_indices, **model_kwargs)

    return build_model_with_cfg(model_cls, variant, pretrained, **kwargs)


@register_model
def pacavit_tiny_p2cconv_100_0(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_TINY, clusters=(100, 100, 100, 0))
    return _create_pacavit("pacavit_tiny_p2cconv_100_0", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2cconv_100_0(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(100, 100, 100, 0))
    return _create_pacavit("pacavit_small_p2cconv_100_0", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2cmlp_100_0(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(100, 100, 100, 0), clustering="mlp")
    return _create_pacavit("pacavit_small_p2cmlp_100_0", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_convmixer_small_100(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(
        _SMALL, depths=(3, 3, 7, 3), clusters=(100, 100, 100, 100), clustering="teacher",
        teacher_depths=(2, 2, 2, 2))
    return _create_pacavit("pacavit_convmixer_small_100", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_base_p2cconv_100_0(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_BASE, clusters=(100, 100, 100, 0))
    return _create_pacavit("pacavit_base_p2cconv_100_0", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_convmixer_base_100(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(
        _BASE, depths=(3, 3, 16, 3), clusters=(100, 100, 100, 100), clustering="teacher",
        teacher_depths=(2, 2, 4, 2))
    return _create_pacavit("pacavit_convmixer_base_100", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2cconv_2_0(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(2, 2, 2, 0))
    return _create_pacavit("pacavit_small_p2cconv_2_0", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2cconv_49_0(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(49, 49, 49, 0))
    return _create_pacavit("pacavit_small_p2cconv_49_0", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2cconv_49_100(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(49, 64, 81, 100))
    return _create_pacavit("pacavit_small_p2cconv_49_100", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2cconv_100_49(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(100, 81, 64, 49))
    return _create_pacavit("pacavit_small_p2cconv_100_49", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2cconv_100(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(100, 100, 100, 100))
    return _create_pacavit("pacavit_small_p2cconv_100", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2cconv_100_blockwise(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(100, 100, 100, 100), onsite=1)
    return _create_pacavit("pacavit_small_p2cconv_100_blockwise", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_convmixer_tiny_100(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(
        _TINY, depths=(2, 2, 2, 2), clusters=(100, 100, 100, 100), clustering="teacher",
        teacher_depths=(2, 2, 2, 2))
    return _create_pacavit("pacavit_convmixer_tiny_100", pretrained, **dict(model_args, **kwargs))


@register_model
def pacavit_small_p2clinear_100_0(pretrained: bool = False, **kwargs) -> PaCaViT:
    model_args = dict(_SMALL, clusters=(100, 100, 100, 0), clustering="linear")
    return _create_pacavit("pacavit_small_p2clinear_100_0", pretrained, **dict(model_args, **kwargs))
