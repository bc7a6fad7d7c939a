"""PVTv2 spatial-reduction attention as operators: timm's ``pvt_v2.Attention`` (sr_ratio / linear_attn)."""
from timm.models.pvt_v2 import Attention
from torch import nn

from pacabench.operators.spec import OperatorSpec, attention_cost

LAYER_NORM_MACS = 5  # fvcore's count per element of an affine layer norm
LINEAR_POOL = 7  # timm's linear_attn pools keys and values to 7 x 7


class PvtOperator(nn.Module):
    def __init__(self, grid_h: int, grid_w: int, dim: int, heads: int, sr_ratio: int = 1,
                 linear: bool = False):
        super().__init__()
        self.grid = [grid_h, grid_w]
        self.attn = Attention(dim, num_heads=heads, sr_ratio=sr_ratio, linear_attn=linear)

    def forward(self, x):
        return self.attn(x, self.grid)


def pvt_cost(grid_h: int, grid_w: int, batch: int, *, dim: int, heads: int, sr_ratio: int) -> dict:
    """dense: R x R stride-R conv to Nr = floor(H/R) floor(W/R) keys (Nr C^2 R^2, absent at R = 1)
    + q, proj (2 N C^2) + kv (2 Nr C^2); other: the reduction's norm (5 Nr C); mixing: attention
    (2 N Nr C); all times B."""
    n, c = grid_h * grid_w, dim
    reduced = (grid_h // sr_ratio) * (grid_w // sr_ratio) if sr_ratio > 1 else n
    reduce = reduced * c * c * sr_ratio * sr_ratio if sr_ratio > 1 else 0
    norm = LAYER_NORM_MACS * reduced * c if sr_ratio > 1 else 0
    attention = attention_cost(batch, heads, n, reduced, c)
    return {"mixing": attention["attn_macs"], "dense": batch * (reduce + 2 * n * c * c + 2 * reduced * c * c),
            "other": batch * norm, **attention}


def pvt_li_cost(grid_h: int, grid_w: int, batch: int, *, dim: int, heads: int) -> dict:
    """other: adaptive average pool to 7x7 (N C, fvcore counts its input) + norm (5 49 C); dense:
    1x1 conv (49 C^2) + q, proj (2 N C^2) + kv (2 49 C^2); mixing: attention (2 N 49 C); all times B."""
    n, c, pooled = grid_h * grid_w, dim, LINEAR_POOL * LINEAR_POOL
    attention = attention_cost(batch, heads, n, pooled, c)
    return {"mixing": attention["attn_macs"],
            "dense": batch * (pooled * c * c + 2 * n * c * c + 2 * pooled * c * c),
            "other": batch * (n * c + LAYER_NORM_MACS * pooled * c), **attention}


SPECS = [
    OperatorSpec(
        name="pvt",
        make=PvtOperator,
        formula=pvt_cost,
        min_grid=lambda params: params["sr_ratio"],  # the R x R reduction conv needs R x R tokens
    ),
    OperatorSpec(
        name="pvt_li",
        make=lambda grid_h, grid_w, **p: PvtOperator(grid_h, grid_w, linear=True, **p),
        formula=pvt_li_cost,
    ),
]
