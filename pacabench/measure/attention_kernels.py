"""Run ``F.scaled_dot_product_attention`` as the kernel a target device picks, on any device.

SDPA is one composite op that chooses a kernel per call: on CPU a fused flash kernel (no N x N
matrix; it writes the output and a logsumexp of B x h x N), unless dropout, a strided last dim or an
unsupported shape sends it to the math path (scores and softmax weights, both N x N); on CUDA flash,
memory-efficient or math. On the meta device the choice is always math, so memory and bytes counted
there would show an N x N matrix a real device never allocates; and under ``inference_mode`` a
dispatch-level tracker sees only the composite op, never the tensors its kernel makes.

:class:`DeviceAttention` (a ``TorchFunctionMode``) makes both explicit: it asks the target device's
own selection (``torch._fused_sdp_choice``, on storage-free CPU stand-ins of the same shapes, strides
and dtypes) which kernel it would run, then calls that kernel's aten op, with the composite's own
preprocessing (a boolean mask made additive). Trackers and counters then see the same ops, with the
same outputs, on CPU tensors and on meta tensors.

CUDA on meta (no GPU needed to predict one): :func:`cuda_backend` applies the documented rules of
torch's selection (flash: fp16/bf16, no mask, head dim <= 256; memory-efficient: fp32/fp16/bf16, head
dim a multiple of 8 (fp32: 4); else math; cuDNN not modelled). It is code-reviewed, not run on a
GPU here. On a CUDA device itself the real selection is asked.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend
from torch.overrides import TorchFunctionMode

from pacabench.measure.torch_compat import disable_current_modes, fused_sdp_choice, gqa

aten = torch.ops.aten
MATH, FLASH, EFFICIENT = SDPBackend.MATH.value, SDPBackend.FLASH_ATTENTION.value, SDPBackend.EFFICIENT_ATTENTION.value


def _stand_in(t: torch.Tensor | None) -> torch.Tensor | None:
    """A CPU tensor with ``t``'s shape, dtype, last-dim stride and grad flag, on a storage of at most
    one row: all the CPU selection reads."""
    if t is None:
        return None
    step = t.stride(-1) if t.dim() else 1
    base = torch.empty(max((t.shape[-1] - 1) * step + 1, 1) if t.dim() else 1, dtype=t.dtype)
    stand_in = base.as_strided(t.shape, (0,) * (t.dim() - 1) + (step,) if t.dim() else ())
    return stand_in.requires_grad_(t.requires_grad) if t.is_floating_point() else stand_in


def cpu_backend(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False) -> int:
    """The CPU's choice (an ``SDPBackend`` value) for these shapes, asked of torch itself. The
    stand-ins are made outside every dispatch mode: trackers and counters must not see them."""
    with disable_current_modes():
        args = [_stand_in(t) for t in (q, k, v, attn_mask)]
        return int(fused_sdp_choice(*args[:3], attn_mask=args[3], dropout_p=dropout_p, is_causal=is_causal,
                                    scale=scale, **gqa(enable_gqa)))


def cuda_backend(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False) -> int:
    """CUDA's choice on an sm80+ GPU (A100, H100) with the default priority flash > efficient > math,
    from torch's documented constraints (see the module docstring; untested without a GPU)."""
    shapes_ok = q.dim() == k.dim() == v.dim() == 4 and all(t.stride(-1) == 1 for t in (q, k, v)) \
        and q.shape[-2] > 0 and k.shape[-2] > 0 and not enable_gqa
    if not shapes_ok:
        return MATH
    head = q.shape[-1]
    same_head = head == k.shape[-1] == v.shape[-1]
    if (torch.backends.cuda.flash_sdp_enabled() and attn_mask is None and same_head and head <= 256
            and q.dtype in (torch.float16, torch.bfloat16)
            and not (is_causal and q.shape[-2] != k.shape[-2])):
        return FLASH
    alignment = 4 if q.dtype == torch.float32 else 8
    if (torch.backends.cuda.mem_efficient_sdp_enabled() and q.dtype in (torch.float32, torch.float16, torch.bfloat16)
            and head % alignment == 0 and v.shape[-1] % alignment == 0):
        return EFFICIENT
    return MATH


def _additive_mask(attn_mask, dtype):
    """The composite's ``convert_boolean_attn_mask``: True keeps (0), False masks (-inf)."""
    if attn_mask is None or attn_mask.dtype != torch.bool:
        return attn_mask
    return torch.where(attn_mask, 0.0, torch.scalar_tensor(float("-inf"), dtype=dtype, device=attn_mask.device))


def _efficient_mask(mask, q, k):
    """The composite's ``preprocess_mask`` for the memory-efficient kernel: its last dim padded to a
    multiple of 16, then sliced back and broadcast to B x h x Nq x Nk (a view)."""
    if mask is None:
        return None
    pad = -mask.shape[-1] % 16
    if pad:
        mask = F.pad(mask, (0, pad))[..., :k.shape[-2]]
    return mask.expand(q.shape[0], q.shape[1], q.shape[-2], k.shape[-2])


def run_attention(device_type: str, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                  enable_gqa=False):
    """SDPA as ``device_type``'s kernel would run it, on ``q``'s own device (meta included)."""
    real = q.device.type == device_type
    if device_type == "cuda" and not real:
        choice = cuda_backend(q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    elif device_type == "cpu" and not real:
        choice = cpu_backend(q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    elif device_type in ("cpu", "cuda"):
        choice = int(fused_sdp_choice(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p,
                                      is_causal=is_causal, scale=scale, **gqa(enable_gqa)))
    else:  # a device whose kernels are not modelled: the composite as it is
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p,
                                              is_causal=is_causal, scale=scale, **gqa(enable_gqa))
    mask = _additive_mask(attn_mask, q.dtype)
    if choice == FLASH and device_type == "cpu":
        return aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, dropout_p, is_causal, attn_mask=mask,
                                                                scale=scale)[0]
    if choice == FLASH:
        head = q.shape[-1]
        pad = -head % 8
        padded = [F.pad(t, (0, pad)) if pad else t for t in (q, k, v)]
        scale = scale if scale is not None else head ** -0.5
        out = aten._scaled_dot_product_flash_attention(*padded, dropout_p, is_causal, False, scale=scale)[0]
        return out[..., :head]
    if choice == EFFICIENT:
        return aten._scaled_dot_product_efficient_attention(q, k, v, _efficient_mask(mask, q, k),
                                                            torch.is_grad_enabled() and any(
                                                                t.requires_grad for t in (q, k, v)),
                                                            dropout_p, is_causal, scale=scale)[0]
    return aten._scaled_dot_product_attention_math(q, k, v, mask, dropout_p, is_causal, None, scale=scale,
                                                   **gqa(enable_gqa))[0]


class DeviceAttention(TorchFunctionMode):
    """Every ``F.scaled_dot_product_attention`` inside runs as ``device_type``'s kernel (module docstring)."""

    def __init__(self, device_type: str):
        super().__init__()
        self.device_type = device_type

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            return run_attention(self.device_type, *args, **kwargs)
        return func(*args, **kwargs)
