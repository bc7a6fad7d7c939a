"""PaCa attention (patch-to-cluster) as an operator: the zoo's own ``PaCaAttention``, unchanged."""
from torch import nn

from pacabench.models import PaCaAttention
from pacabench.operators.spec import OperatorSpec, attention_cost

LAYER_NORM_MACS = 5  # fvcore's count per element of an affine layer norm


class PaCaOperator(nn.Module):
    """One PaCa attention layer that computes its own clusters on a fixed grid."""

    def __init__(self, grid_h: int, grid_w: int, dim: int, heads: int, clusters: int, clustering: str):
        super().__init__()
        self.grid = (grid_h, grid_w)
        self.attn = PaCaAttention(dim, heads, clusters, clustering)

    def forward(self, x):
        out, _ = self.attn(x, *self.grid)
        return out


def clustering_macs(clustering: str, tokens: int, dim: int, clusters: int) -> int:
    """MACs of the clustering module that turns N tokens into M cluster logits (DESIGN.md section 3)."""
    if clustering == "conv":  # depthwise 7x7, 1x1 C->C, 1x1 C->M
        return tokens * dim * (49 + dim + clusters)
    if clustering == "mlp":  # Linear C->4C, Linear 4C->M
        return tokens * 4 * dim * (dim + clusters)
    return tokens * dim * clusters  # linear: Linear C->M


def paca_cost(grid_h: int, grid_w: int, batch: int, *, dim: int, heads: int, clusters: int,
              clustering: str) -> dict:
    """dense: clustering + q, proj (2 N C^2) + k, v on clusters (2 M C^2); mixing: cluster tokens
    z@x (M N C) + attention N -> M (2 N M C); other: cluster_norm (5 M C); all times B."""
    n, c, m = grid_h * grid_w, dim, clusters
    attention = attention_cost(batch, heads, n, m, c)
    return {"mixing": batch * m * n * c + attention["attn_macs"],
            "dense": batch * (clustering_macs(clustering, n, c, m) + 2 * n * c * c + 2 * m * c * c),
            "other": batch * LAYER_NORM_MACS * m * c, **attention}


def _spec(clustering: str, name: str) -> OperatorSpec:
    return OperatorSpec(
        name=name,
        make=lambda grid_h, grid_w, **p: PaCaOperator(grid_h, grid_w, clustering=clustering, **p),
        formula=lambda grid_h, grid_w, batch, **p: paca_cost(grid_h, grid_w, batch,
                                                             clustering=clustering, **p),
    )


SPECS = [
    _spec("conv", "paca"),
    _spec("mlp", "paca_mlp"),
    _spec("linear", "paca_linear"),
]
