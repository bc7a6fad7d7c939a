"""Every private torch API pacabench relies on, for every torch it supports, and the check that
says when the running torch is newer than any CI has tested.

pacabench supports torch ``OLDEST_TORCH`` and every later release; CI runs the oldest and the
newest it knows (``TESTED_TORCH``). The counter, the meta-device tracing and the memory tracker
use torch internals: they import them from here, each with the versions it covers and why, so a
release that moves one is repaired in this file alone. On a torch newer than ``TESTED_TORCH`` a
break shows as the two FLOP counters disagreeing, which :mod:`pacabench.measure.counts` turns
into an error rather than a number (see :func:`untested_torch`).
"""
from __future__ import annotations

import re

import torch
from torch.utils import flop_counter

# The imports below are unchanged from 2.4 through 2.15 (the releases run with them).
# Base of the dispatch-level modes: the counter, the memory tracker, the meta tracing.
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: F401
# Flattening of op arguments and outputs (memory tracker, timing, backward count).
from torch.utils._pytree import tree_flatten, tree_leaves  # noqa: F401
# The counter's set of tensors that depend on the input, keyed by identity.
from torch.utils.weak import WeakIdKeyDictionary  # noqa: F401

OLDEST_TORCH = "2.4"
"""Oldest torch CI tests (2.3 lacks ``torch.utils.module_tracker``, which the counter needs)."""
TESTED_TORCH = "2.14"
"""Newest torch CI tests: a newer one is flagged in env.json and the report, and a disagreement of the
FLOP counters on it is an error row."""

# Dispatch modes switched off while CPU stand-ins ask SDPA's kernel selection (2.4 to 2.15).
from torch.utils._python_dispatch import _disable_current_modes as disable_current_modes  # noqa: F401,E402

# SDPA's own kernel selection, asked of CPU stand-ins (2.4 to 2.15).
fused_sdp_choice = torch._fused_sdp_choice


_HAS_GQA = "enable_gqa" in str(torch.ops.aten._scaled_dot_product_attention_math.default._schema)


def gqa(enable_gqa: bool) -> dict:
    """``enable_gqa=...`` for SDPA, its selection and its math kernel: the argument exists from torch 2.5
    (read from the kernel's schema); 2.4 has no grouped-query attention, so there it is left out."""
    return {"enable_gqa": enable_gqa} if _HAS_GQA else {}


# JIT tracer internals :mod:`pacabench.measure.meta_trace` uses to record a node by hand (2.4 to 2.15).
tracing_state = torch._C._get_tracing_state
value_trace = torch._C._get_value_trace
set_value_trace = torch._C._set_value_trace


def _minor(version: str) -> tuple[int, int]:
    major, minor = re.match(r"(\d+)\.(\d+)", version).groups()
    return int(major), int(minor)


def untested_torch(version: str | None = None) -> str | None:
    """One line saying that ``version`` (default: the running torch) is newer than every torch CI
    tested, else None."""
    version = version or torch.__version__
    if _minor(version) <= _minor(TESTED_TORCH):
        return None
    return (f"torch {version} is newer than the newest torch pacabench was tested with ({TESTED_TORCH}): "
            f"its counts are trusted only where the two FLOP counters agree, and a cell where they do "
            f"not is an error")


# --- FlopCounterMode's dispatch mode -------------------------------------------------------------
# 2.6 onwards: FlopCounterMode is a context manager that enters the private dispatch mode
# ``_FlopCounterMode``, which first decomposes every op that has a composite kernel, so an op
# pacabench has a formula for (``upsample_nearest2d`` in an FPN) would reach the counter only as
# index arithmetic; :func:`count_as_themselves` swaps in a mode that keeps those ops whole.
# 2.4 and 2.5: FlopCounterMode is the dispatch mode itself and counts every op as it comes, with
# the same ``_count_flops(packet, out, args, kwargs)`` hook: nothing to swap.
_FlopDispatchMode = getattr(flop_counter, "_FlopCounterMode", None)

if _FlopDispatchMode is not None:
    class _CountedAsThemselves(_FlopDispatchMode):
        """``_FlopCounterMode``, except that an op in ``packets`` is counted as itself."""

        def __init__(self, counter, packets: frozenset):
            super().__init__(counter)
            self.packets = packets

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            packet = getattr(func, "_overloadpacket", None)
            if packet in self.packets:
                out = func(*args, **(kwargs or {}))
                return self.counter._count_flops(packet, out, args, kwargs or {})
            return super().__torch_dispatch__(func, types, args, kwargs)


def count_as_themselves(counter: flop_counter.FlopCounterMode, packets: frozenset) -> None:
    """Make the entered ``counter`` count the ops in ``packets`` (overload packets) as themselves,
    not decomposed (see above)."""
    if _FlopDispatchMode is None:
        return
    counter.mode.__exit__(None, None, None)
    counter.mode = _CountedAsThemselves(counter, packets)
    counter.mode.__enter__()
