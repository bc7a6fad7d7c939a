"""Swin (shifted) window attention as an operator: the attention path of timm's SwinTransformerBlock."""
import math

from timm.models.swin_transformer import SwinTransformerBlock
from torch import nn

from pacabench.operators.spec import OperatorSpec, attention_cost


class SwinOperator(nn.Module):
    """timm's block minus its norms and MLP: cyclic shift, pad to whole windows, window attention
    (timm's WindowAttention with relative position bias and shift mask), unpad, shift back."""

    def __init__(self, grid_h: int, grid_w: int, dim: int, heads: int, window: int, shift: bool):
        super().__init__()
        self.grid = (grid_h, grid_w)
        self.block = SwinTransformerBlock(dim, (grid_h, grid_w), num_heads=heads, window_size=window,
                                          shift_size=window // 2 if shift else 0)
        del self.block.norm1, self.block.norm2, self.block.mlp  # not part of the attention

    def forward(self, x):
        batch, _, dim = x.shape
        out = self.block._attn(x.view(batch, *self.grid, dim))
        return out.reshape(batch, -1, dim)


def window_grid(grid_h: int, grid_w: int, window: int) -> tuple[int, int, int, int]:
    """(window_h, window_w, padded_h, padded_w) as timm sets them: a window no larger than the
    grid, and the grid padded up to whole windows."""
    win_h, win_w = min(window, grid_h), min(window, grid_w)
    return win_h, win_w, math.ceil(grid_h / win_h) * win_h, math.ceil(grid_w / win_w) * win_w


def swin_cost(grid_h: int, grid_w: int, batch: int, *, dim: int, heads: int, window: int,
              shift: bool) -> dict:
    """On the padded grid Np = Hp*Wp with window area A: dense: qkv (3 Np C^2) + proj (Np C^2);
    mixing: attention inside windows (2 Np A C); all times B. The shift costs no MACs."""
    win_h, win_w, pad_h, pad_w = window_grid(grid_h, grid_w, window)
    padded, area = pad_h * pad_w, win_h * win_w
    attention = attention_cost(batch * padded // area, heads, area, area, dim)
    return {"mixing": attention["attn_macs"], "dense": batch * 4 * padded * dim * dim, "other": 0,
            **attention}


SPECS = [
    OperatorSpec(
        name="swin",
        make=SwinOperator,
        formula=swin_cost,
    ),
]
