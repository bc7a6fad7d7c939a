"""Two attentions of your own, measured by pacabench (README: "Measure your own attention").

``make`` is the contract pacabench calls: ``make(height, width, batch, **params)`` returns the module
and its inputs (and optionally the token count N). It runs on the meta device for counts, so it only
builds: no data is read.

    pacabench scaling py:examples.my_attention:make                      # quadratic: global attention
    pacabench scaling "py:examples.my_attention:make?pool=7"             # linear: keys pooled to 7x7
    pacabench flops "py:examples.my_attention:make?dim=128" --resolution 1024 --breakdown
"""
import torch
import torch.nn.functional as F
from torch import nn


class PooledAttention(nn.Module):
    """Multi-head attention from N tokens to keys and values average-pooled to pool x pool (pool 0:
    every token, i.e. global attention)."""

    def __init__(self, dim: int, heads: int, grid: tuple[int, int], pool: int):
        super().__init__()
        self.heads, self.grid, self.pool = heads, grid, pool
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        context = x
        if self.pool:
            grid = x.transpose(1, 2).reshape(batch, dim, *self.grid)
            context = F.adaptive_avg_pool2d(grid, self.pool).flatten(2).transpose(1, 2)
        q = self.q(x).reshape(batch, tokens, self.heads, -1).transpose(1, 2)
        k, v = self.kv(context).reshape(batch, -1, 2, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, tokens, dim)
        return self.proj(out)


def make(height: int, width: int, batch: int, dim: int = 96, heads: int = 2, pool: int = 0):
    """Stage 1 of a pyramid: stride 4, so N = (height / 4) (width / 4) tokens of width ``dim``."""
    grid = (height // 4, width // 4)
    return PooledAttention(dim, heads, grid, pool), torch.randn(batch, grid[0] * grid[1], dim)
