"""Op handles for the FLOP counters: the multiply-accumulates fvcore and FlopCounterMode miss.

fvcore (0.1.5) has no handle for ``aten::scaled_dot_product_attention`` or its backend kernels and
none for ``aten::_convolution_mode`` (``padding='same'``), so it silently drops the attention
matmuls of timm's ViT / PVTv2 and of the PaCa zoo. ``torch.utils.flop_counter`` has no formula for
the CPU flash kernel, so it counts 0 for attention on CPU. The handles here fill both gaps; the
analysis that uses them lives in :mod:`pacabench.measure.flops`.

Conventions: fvcore handles take JIT values and return MACs (1 MAC = 1 FLOP, the paper
convention); FlopCounterMode formulas take shapes and return FLOPs (2 per MAC).
"""
from collections.abc import Sequence
from math import prod

import torch
from fvcore.nn.jit_handles import conv_flop_count, get_shape
from torch.utils import flop_counter

aten = torch.ops.aten


def sdpa_macs(q_shape: Sequence[int], k_shape: Sequence[int], v_shape: Sequence[int]) -> int:
    """MACs of softmax(Q K^T) V: B*h*Nq*Nk*d for Q K^T plus B*h*Nq*Nk*dv for the product with V.

    Leading dims (batch, heads) multiply; the mask, the softmax and the scaling are not MACs.
    Causal masking is counted in full, as FlopCounterMode does.
    """
    *lead, n_q, d = q_shape
    n_k, d_v = k_shape[-2], v_shape[-1]
    return prod(lead) * n_q * n_k * (d + d_v)


def sdpa_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for SDPA and its backend kernels: q, k, v are the first three inputs in all."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    return sdpa_macs(q, k, v)


def convolution_mode_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for ``aten::_convolution_mode(input, weight, bias, stride, padding: str, ...)``."""
    x, w = (get_shape(v) for v in inputs[:2])
    return conv_flop_count(x, w, get_shape(outputs[0]), transposed=False)


def baddbmm_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for ``aten::baddbmm(self, batch1, batch2, ...)`` (masked multi-head attention)."""
    b, n, k = get_shape(inputs[1])
    m = get_shape(inputs[2])[-1]
    return b * n * k * m


SDPA_OPS = (
    "aten::scaled_dot_product_attention",
    "aten::_scaled_dot_product_flash_attention",
    "aten::_scaled_dot_product_efficient_attention",
    "aten::_scaled_dot_product_cudnn_attention",
    "aten::_scaled_dot_product_flash_attention_for_cpu",
)

FVCORE_HANDLES = {
    **{op: sdpa_flop_jit for op in SDPA_OPS},
    "aten::_convolution_mode": convolution_mode_flop_jit,
    "aten::baddbmm": baddbmm_flop_jit,
}
"""Handles added to fvcore's defaults (op name -> handle returning MACs)."""


def _cpu_flash_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return 2 * sdpa_macs(query, key, value)


def _cpu_flash_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


def register_flop_counter_formulas() -> None:
    """Give FlopCounterMode the CPU flash-attention kernels it lacks; idempotent, safe to repeat."""
    formulas = {
        aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_flops,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_backward_flops,
    }
    for op, formula in formulas.items():
        if op not in flop_counter.flop_registry:
            flop_counter.register_flop_formula(op)(formula)
