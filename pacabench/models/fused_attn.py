"""One switch for every attention in a network: fused kernels or the explicit attention matrix.

timm's attentions (ViT, PVTv2, Swin's ``WindowAttention``, ...) and :class:`PaCaAttention` carry the
same ``fused_attn`` flag. True runs ``F.scaled_dot_product_attention``, whose flash / memory-efficient
kernels never hold the attention matrix; False runs softmax(q k^T / sqrt(d)) v explicitly and
materialises the B x h x Nq x Nk weights, as code written before those kernels (the official PaCa
code included) does. The MACs are the same; peak memory is not: with False, global attention's memory
grows with N^2. Measuring both is how pacabench shows what an attention costs without such a kernel.
"""
from torch import nn


def set_fused_attn(module: nn.Module, enabled: bool) -> int:
    """Set ``fused_attn`` on every submodule that has the flag; returns how many were set."""
    switched = 0
    for submodule in module.modules():
        if isinstance(getattr(submodule, "fused_attn", None), bool):
            submodule.fused_attn = enabled
            switched += 1
    return switched
