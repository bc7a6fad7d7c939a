"""Global multi-head self-attention as an operator: timm's vision_transformer ``Attention``."""
from timm.models.vision_transformer import Attention
from torch import nn

from pacabench.operators.spec import OperatorSpec, attention_cost


class VitOperator(nn.Module):
    def __init__(self, grid_h: int, grid_w: int, dim: int, heads: int):
        super().__init__()
        self.attn = Attention(dim, num_heads=heads, qkv_bias=True)  # as in timm's ViT/DeiT blocks

    def forward(self, x):
        return self.attn(x)


def vit_cost(grid_h: int, grid_w: int, batch: int, *, dim: int, heads: int) -> dict:
    """dense: qkv (3 N C^2) + proj (N C^2); mixing: attention N -> N (2 N^2 C); all times B."""
    n = grid_h * grid_w
    attention = attention_cost(batch, heads, n, n, dim)
    return {"mixing": attention["attn_macs"], "dense": batch * 4 * n * dim * dim, "other": 0, **attention}


SPECS = [
    OperatorSpec(
        name="vit",
        make=VitOperator,
        formula=vit_cost,
    ),
]
