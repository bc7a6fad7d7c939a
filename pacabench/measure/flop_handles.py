"""Op handles for the two FLOP counters: the multiply-accumulates each would otherwise miss.

fvcore (0.1.5) has no handle for ``aten::scaled_dot_product_attention`` or its backend kernels and
none for ``aten::_convolution_mode`` (``padding='same'``), so it silently drops the attention
matmuls of timm's ViT / PVTv2 and of the PaCa zoo; its einsum handle reads numpy's FLOP estimate to
4 significant digits, so attention written with ``torch.einsum`` never matched exactly.
``torch.utils.flop_counter`` has no formula for the CPU flash kernel, so it counts 0 for attention
on CPU, and none for norms, pooling or upsampling, which fvcore (and so the published tables)
counts. Neither counts the fused self-attention fast paths of ``nn.MultiheadAttention`` and
``nn.TransformerEncoderLayer`` (eval, real tensors). The handles here fill these gaps; the counters
that use them live in :mod:`pacabench.measure.cost_counter` and :mod:`pacabench.measure.flops`.

Conventions: fvcore handles take JIT values and return MACs (1 MAC = 1 FLOP, the paper
convention); FlopCounterMode formulas take shapes and return FLOPs (2 per MAC).
"""
from collections import Counter
from collections.abc import Sequence
from math import prod

import torch
from fvcore.nn.jit_handles import conv_flop_count, get_shape
from torch.utils import flop_counter

aten = torch.ops.aten


FFN_WEIGHT_INDEX = 14
"""Position of ``ffn_weight_1`` (F x E) among ``aten::_transformer_encoder_layer_fwd``'s arguments."""


def sdpa_products(q_shape: Sequence[int], k_shape: Sequence[int], v_shape: Sequence[int]) -> tuple[int, int]:
    """MACs of the two products of softmax(Q K^T) V: (Q K^T: B*h*Nq*Nk*d, weights times V: B*h*Nq*Nk*dv).

    Leading dims (batch, heads) multiply; the mask, the softmax and the scaling are not MACs.
    Causal masking is counted in full, as FlopCounterMode does.
    """
    *lead, n_q, d = q_shape
    n_k, d_v = k_shape[-2], v_shape[-1]
    return prod(lead) * n_q * n_k * d, prod(lead) * n_q * n_k * d_v


def sdpa_macs(q_shape: Sequence[int], k_shape: Sequence[int], v_shape: Sequence[int]) -> int:
    """MACs of softmax(Q K^T) V: both products of :func:`sdpa_products`."""
    return sum(sdpa_products(q_shape, k_shape, v_shape))


def fused_self_attention_macs(x_shape: Sequence[int], ffn_hidden: int | None = None) -> dict[str, int]:
    """MACs by class of PyTorch's fused fast paths (``nn.MultiheadAttention`` and, with ``ffn_hidden``,
    ``nn.TransformerEncoderLayer`` in eval on real tensors): one kernel each, so neither counter sees
    the products inside. On ``x_shape`` = (B, N, E): Q K^T and A V (2 B N^2 E, mixing), the q, k, v and
    output projections (4 B N E^2, dense); the layer adds its feed-forward (2 B N E F, dense) and two
    affine layer norms (5 per element each: fvcore's convention, as for ``native_layer_norm``). Both
    paths run only for self-attention (query, key and value one tensor); a nested batch (a padding
    mask in ``nn.TransformerEncoder``) has no (B, N, E) shape and is not counted."""
    b, n, e = x_shape
    macs = {"mixing": 2 * b * n * n * e, "dense": 4 * b * n * e * e, "other": 0}
    if ffn_hidden is not None:
        macs["dense"] += 2 * b * n * e * ffn_hidden
        macs["other"] = 2 * 5 * b * n * e
    return macs


# --- fvcore (JIT trace) handles: return MACs ---------------------------------------------------

def sdpa_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for SDPA and its backend kernels: q, k, v are the first three inputs in all."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    return sdpa_macs(q, k, v)


def convolution_mode_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for ``aten::_convolution_mode(input, weight, bias, stride, padding: str, ...)``."""
    x, w = (get_shape(v) for v in inputs[:2])
    return conv_flop_count(x, w, get_shape(outputs[0]), transposed=False)


def einsum_macs(equation: str, shapes: Sequence[Sequence[int]]) -> int:
    """MACs of ``torch.einsum(equation, *operands)`` as torch runs it: operands contracted in pairs
    (left to right, or on opt_einsum's path when torch uses it), each pair a batched matmul over every
    letter it keeps or sums on both sides; a letter only one side has and nothing later needs is
    summed away first (no MAC), and a pair with nothing to sum is an elementwise product (no MAC)."""
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    spare = iter(sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") - set(equation)))
    ellipsis = "".join(next(spare) for _ in range(max((len(s) - len(t) + 3 for t, s in zip(terms, shapes)
                                                       if "..." in t), default=0)))
    terms = [t.replace("...", ellipsis[len(ellipsis) - (len(s) - len(t) + 3):]) for t, s in zip(terms, shapes)]
    if not arrow:  # implicit output: the letters used once, in order, after the ellipsis's
        output = ellipsis + "".join(sorted(c for c in set("".join(terms)) - set(ellipsis)
                                           if "".join(terms).count(c) == 1))
    output = output.replace("...", ellipsis)
    size: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for letter, extent in zip(term, shape):
            size[letter] = max(size.get(letter, 1), extent)
    order = [(0, 1)] * (len(terms) - 1)
    if len(terms) > 2 and torch.backends.opt_einsum.enabled and torch.backends.opt_einsum.is_available():
        import opt_einsum

        order = opt_einsum.contract_path(equation, *shapes, shapes=True,
                                         optimize=torch.backends.opt_einsum.strategy)[0]
    macs = 0
    for first, second in order:
        left, right = terms[first], terms[second]
        terms = [t for i, t in enumerate(terms) if i not in (first, second)]
        needed = set(output).union(*terms)
        kept = "".join(dict.fromkeys(c for c in left + right if c in needed))
        summed = set(left) & set(right) - needed
        if summed:
            macs += prod(size[c] for c in set(kept) | summed)
        terms.append(kept)
    return macs


def einsum_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for ``aten::einsum(equation, operands, path)``: exact, where fvcore's own reads
    numpy's FLOP estimate, printed to 4 significant digits (and allocates every operand to get it)."""
    shapes = [get_shape(v) for v in inputs[1].node().inputs()]
    return einsum_macs(inputs[0].toIValue(), shapes)


def _fused_flop_jit(ffn_weight_index: int | None):
    """fvcore handle for a fused fast path (:func:`fused_self_attention_macs`); its norms are filed
    under ``layer_norm``, so the cross-check compares products with products."""
    def handle(inputs: list, outputs: list) -> Counter:
        ffn = None if ffn_weight_index is None else get_shape(inputs[ffn_weight_index])[0]
        macs = fused_self_attention_macs(get_shape(inputs[0]), ffn)
        return Counter({"fused_attention": macs["mixing"] + macs["dense"], "layer_norm": macs["other"]})
    return handle


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
    "aten::einsum": einsum_flop_jit,
    "aten::_native_multi_head_attention": _fused_flop_jit(None),
    "aten::_transformer_encoder_layer_fwd": _fused_flop_jit(FFN_WEIGHT_INDEX),
}
"""Handles added to fvcore's defaults (op name -> handle returning MACs)."""

FVCORE_NON_PRODUCT_OPS = frozenset({
    "batch_norm", "group_norm", "layer_norm", "instance_norm", "upsample_nearest2d",
    "upsample_bilinear2d", "adaptive_avg_pool2d", "grid_sampler",
})
"""fvcore's per-operator names (``by_operator()`` keys) of what it counts that is not a product of
two tensors: per-element conventions for norms, pooling and resampling."""


# --- FlopCounterMode (dispatch) formulas: take shapes, return FLOPs = 2 x MACs -------------------

def _cpu_flash_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return 2 * sdpa_macs(query, key, value)


def _sdpa_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    """The four gradient products of attention (dV = P^T dO, dP = dO V^T, dQ = dS K, dK = dS^T Q): twice
    its forward, as the math kernel runs it and on every device. Fused kernels also recompute the
    scores (torch's own formula counts 2.5x); that is the kernel's choice, not the model's cost, and
    counting it would make a training step's count depend on which kernel the device picked."""
    return 2 * 2 * sdpa_macs(query, key, value)


def _fused_attention_flops(query, *args, out_shape=None, **kwargs) -> int:
    return 2 * sum(fused_self_attention_macs(query).values())


def _encoder_layer_flops(src, *args, out_shape=None, **kwargs) -> int:
    return 2 * sum(fused_self_attention_macs(src, args[FFN_WEIGHT_INDEX - 1][0]).values())


def _per_element(macs_per_element: int, of: str):
    """A formula charging ``macs_per_element`` per element of the first input or of the output."""
    def formula(input_shape, *args, out_shape=None, **kwargs) -> int:
        shape = input_shape if of == "input" else out_shape
        shape = shape[0] if shape and isinstance(shape[0], (list, tuple)) else shape
        return 2 * macs_per_element * prod(shape)
    return formula


def _layer_norm_flops(input_shape, normalized_shape, weight=None, *args, out_shape=None, **kwargs) -> int:
    return 2 * prod(input_shape) * (5 if weight is not None else 4)


def _group_norm_flops(input_shape, weight=None, *args, out_shape=None, **kwargs) -> int:
    return 2 * prod(input_shape) * (5 if weight is not None else 4)


def _batch_norm_flops(input_shape, weight=None, *args, out_shape=None, **kwargs) -> int:
    """fvcore's batch-norm convention: training (also instance norm) 5 per element with an affine
    weight, 4 without; inference 2 with, 1 without. The ``training`` flag is the first bool argument
    of every batch-norm kernel that has one."""
    training = next((arg for arg in args if isinstance(arg, bool)), False)
    if training:
        return 2 * prod(input_shape) * (5 if weight is not None else 4)
    return 2 * prod(input_shape) * (2 if weight is not None else 1)


def _conv_backward_flops(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                         output_padding, groups, output_mask, out_shape=None, **kwargs) -> int:
    """torch's ``convolution_backward`` formula with its weight-gradient term divided by ``groups``:
    torch counts every input channel against every output channel there, so it charges a depthwise
    convolution's weight gradient C times its real cost. The input gradient is a (transposed)
    convolution of the output gradient with the weight; the weight gradient one of the input with
    the output gradient, channels and batch swapped."""
    def swap(shape):
        return [shape[1], shape[0], *shape[2:]]

    flops = 0
    if output_mask[0]:
        flops += flop_counter.conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:
        pair = (grad_out_shape, x_shape) if transposed else (x_shape, grad_out_shape)
        flops += flop_counter.conv_flop_count(*map(swap, pair), swap(out_shape[1])) // groups
    return flops


OTHER_FORMULAS = {
    aten.native_layer_norm: _layer_norm_flops,
    aten.native_group_norm: _group_norm_flops,
    aten.native_batch_norm: _batch_norm_flops,
    aten._native_batch_norm_legit: _batch_norm_flops,
    aten._native_batch_norm_legit_no_training: _batch_norm_flops,
    aten.upsample_nearest2d: _per_element(1, "output"),
    aten.upsample_bilinear2d: _per_element(4, "output"),
    aten._adaptive_avg_pool2d: _per_element(1, "input"),
    aten.grid_sampler_2d: _per_element(4, "output"),
}
"""What fvcore counts besides products, at dispatch level and in fvcore's conventions, so the two
counters count the same op set. (A global average pool reaches dispatch as ``mean``, which
neither counter counts as a product; fvcore alone charges it 1 per element.)"""

DISPATCH_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_flops,
    **dict.fromkeys((aten._scaled_dot_product_flash_attention_for_cpu_backward,
                     aten._scaled_dot_product_flash_attention_backward,
                     aten._scaled_dot_product_efficient_attention_backward,
                     aten._scaled_dot_product_cudnn_attention_backward), _sdpa_backward_flops),
    aten.convolution_backward: _conv_backward_flops,
    aten._native_multi_head_attention: _fused_attention_flops,
    aten._transformer_encoder_layer_fwd: _encoder_layer_flops,
    **OTHER_FORMULAS,
}
"""``custom_mapping`` for FlopCounterMode: the CPU attention kernels it lacks, attention's backward
as its gradient products on every kernel, grouped convolutions' backward counted right, the fused
self-attention fast paths, plus OTHER_FORMULAS."""
