"""Count GMACs of one forward pass twice, by two independent methods, and say what was left out.

Primary: fvcore's ``FlopCountAnalysis`` (JIT trace) with pacabench's handles for attention and
``padding='same'`` convolutions (:mod:`pacabench.measure.flop_handles`). Cross-check:
``torch.utils.flop_counter.FlopCounterMode`` (dispatch level) with its CPU attention gap filled,
divided by 2 (it counts 2 FLOPs per MAC). Both run on whatever device the module and inputs are on;
on ``meta`` nothing is allocated or computed, so any resolution is counted in well under a second.
fvcore also counts normalisation layers (a few elementwise FLOPs per element), FlopCounterMode
does not; the two agree within 1% on every zoo and peer model.
"""
import contextlib
import warnings
from dataclasses import dataclass

import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_analysis import _IGNORED_OPS
from torch.utils.flop_counter import FlopCounterMode

from pacabench.measure.flop_handles import FVCORE_HANDLES, register_flop_counter_formulas
from pacabench.measure.meta_trace import MetaTraceMode

AGREE_TOLERANCE = 0.01

# fvcore ignores these silently although they compute; pacabench lists them as uncounted instead.
_COMPUTING_OPS_FVCORE_IGNORES = {
    "aten::relu", "aten::relu_", "aten::clamp", "aten::clamp_", "aten::max", "aten::masked_fill",
}
# Counting always traces the module in eval mode, where dropout is the identity.
_EVAL_IDENTITY_OPS = {"aten::dropout", "aten::dropout_", "aten::feature_dropout", "aten::feature_dropout_"}
SHAPE_ONLY_OPS = frozenset((_IGNORED_OPS - _COMPUTING_OPS_FVCORE_IGNORES) | _EVAL_IDENTITY_OPS)
"""Ops that only view, move or create data (or compute on shapes): not FLOPs, not reported."""


@dataclass(frozen=True)
class FlopCount:
    """GMACs of one forward pass over the whole batch (1 MAC = 1 FLOP, the paper convention)."""

    gmacs: float                      # fvcore + handles
    gmacs_flopcounter: float | None   # FlopCounterMode / 2; None if it could not run
    method: str                       # e.g. "fvcore+handles/meta"
    uncounted_ops: list[str]          # ops that ran but carry no count (elementwise, softmax, ...)
    agree: bool                       # the two counts within AGREE_TOLERANCE


def count_params(module: torch.nn.Module) -> int:
    """Number of parameters (works on meta modules)."""
    return sum(p.numel() for p in module.parameters())


def _meta_mode(inputs: tuple):
    """:class:`MetaTraceMode` when counting on meta tensors; nothing on a real device."""
    on_meta = any(isinstance(t, torch.Tensor) and t.is_meta for t in inputs)
    return MetaTraceMode() if on_meta else contextlib.nullcontext()


def fvcore_macs(module: torch.nn.Module, inputs: tuple) -> tuple[int, list[str]]:
    """MACs by fvcore + pacabench handles, and the sorted names of ops it could not count."""
    analysis = FlopCountAnalysis(module, inputs).set_op_handle(**FVCORE_HANDLES)
    analysis._ignored_ops = set(SHAPE_ONLY_OPS)  # fvcore has no public way to narrow its ignore list
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    with warnings.catch_warnings(), _meta_mode(inputs):
        warnings.simplefilter("ignore")  # TracerWarnings about shapes are expected and harmless
        total = analysis.total()
    return total, sorted(analysis.unsupported_ops())


def flop_counter_macs(module: torch.nn.Module, inputs: tuple) -> float:
    """MACs by torch.utils.flop_counter (FLOPs / 2), with the CPU flash-attention formula added."""
    register_flop_counter_formulas()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), _meta_mode(inputs), counter:
        module(*inputs)
    return counter.get_total_flops() / 2


def count_flops(module: torch.nn.Module, inputs: tuple) -> FlopCount:
    """Count one forward pass of ``module(*inputs)`` by both methods; see the module docstring."""
    device = next((t.device.type for t in inputs if isinstance(t, torch.Tensor)), "cpu")
    with torch.no_grad():
        macs, uncounted = fvcore_macs(module, inputs)
    try:
        macs_fc = flop_counter_macs(module, inputs)
    except Exception:  # the cross-check is optional; the primary count stands alone
        macs_fc = None
    agree = macs_fc is not None and abs(macs - macs_fc) <= AGREE_TOLERANCE * max(macs, macs_fc)
    return FlopCount(
        gmacs=macs / 1e9,
        gmacs_flopcounter=None if macs_fc is None else macs_fc / 1e9,
        method=f"fvcore+handles/{device}",
        uncounted_ops=uncounted,
        agree=agree,
    )
