"""Count a target (model, segmentor or operator) at one input size on the meta device: the exact
counts every part of pacabench reports (rows, ``pacabench flops``, ``pacabench scaling``).

Nothing is allocated or computed, so any size is counted in about a second. The fields of
:meth:`TargetCount.row` are the count columns of a results row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch

from pacabench.measure.cost_counter import OP_CLASSES
from pacabench.measure.flops import FlopCount, count_flops, count_params, params_by_part
from pacabench.measure.torch_compat import OLDEST_TORCH, TESTED_TORCH, untested_torch


@dataclass(frozen=True)
class TargetCount:
    """Parameters and MACs of one target at one size, and the meta-device build they came from."""

    built: object          # pacabench.targets.Built on the meta device
    params: int
    params_by_part: dict[str, int]
    flops: FlopCount

    @property
    def tokens(self) -> int:
        return self.built.tokens

    def row(self) -> dict:
        """The count columns of a results row (GMACs: 1 MAC = 1 FLOP)."""
        flops = self.flops
        return {
            "tokens": self.tokens, "params": self.params, "params_by_part": self.params_by_part,
            "gmacs": flops.gmacs, "gmacs_mixing": flops.gmacs_of("mixing"),
            "gmacs_dense": flops.gmacs_of("dense"), "gmacs_other": flops.gmacs_of("other"),
            "gmacs_backward": None if flops.backward_macs is None else flops.backward_macs / 1e9,
            "gmacs_fvcore": flops.gmacs_fvcore, "flops_method": flops.method, "flops_agree": flops.agree,
            "uncounted_ops": flops.uncounted_ops, "module_macs": flops.module_macs(),
            "bytes_written": flops.bytes_written,
            **{f"bytes_written_{c}": flops.bytes_by_class[c] for c in OP_CLASSES},
            "module_bytes": flops.module_bytes(),
        }


def count_built(built, *, crosscheck: bool = True, backward: bool = False, kernels: str = "cpu",
                user_code: str | None = None) -> TargetCount:
    """Count a target built on the meta device (see :func:`count_flops` for the flags). ``user_code``:
    the label of user code (a ``py:`` target, a factory), whose failures on the meta device are one
    ``pacabench.targets.TargetError`` saying why."""
    try:
        flops = count_flops(built.module, built.inputs, crosscheck=crosscheck, backward=backward, kernels=kernels)
    except Exception as error:  # noqa: BLE001 - the user's forward may raise anything on meta
        _raise_if_too_large(error)
        if user_code is None:
            raise
        from pacabench.messages import one_line
        from pacabench.targets import TargetError

        raise TargetError(f"{user_code}: cannot be counted on the meta device ({one_line(error)}); counting "
                          f"runs your code with no data: avoid .item(), NumPy and shapes read from values") from None
    _check_agreement(flops)
    return TargetCount(built=built, params=count_params(built.module),
                       params_by_part=params_by_part(built.module), flops=flops)


def _check_agreement(flops: FlopCount) -> None:
    """On a torch newer than CI tested, counters that disagree most likely mean torch changed under
    the counter: a ``pacabench.targets.TargetError``, never a silent number. (On a tested torch every
    shipped target agrees, so there a disagreement stays a reported ``flops_agree`` false.)"""
    if untested_torch() is None or flops.fvcore_macs is None or flops.agree:
        return
    from pacabench.targets import TargetError

    raise TargetError(f"the two FLOP counters disagree ({flops.macs:,} MACs, fvcore {flops.fvcore_macs:,}) "
                      f"on torch {torch.__version__}, newer than the newest torch pacabench was tested with "
                      f"({TESTED_TORCH}): the count is not trusted; count with torch {OLDEST_TORCH} to "
                      f"{TESTED_TORCH}, or report it")


def count_target(kind: str, name: str, params: Mapping, height: int, width: int, batch: int = 1, *,
                 crosscheck: bool = True, backward: bool = False, kernels: str = "cpu") -> TargetCount:
    """Build the target on the meta device and count it (attention as ``kernels``' device runs it);
    raises ``pacabench.targets.TargetError`` for
    a target or size that cannot be built, or user code that cannot run on the meta device."""
    from pacabench import user_targets
    from pacabench.targets import build_target  # lazy: the measurement core must not need targets

    try:
        built = build_target(kind, name, params, height, width, batch, device="meta")
    except (RuntimeError, OverflowError) as error:
        _raise_if_too_large(error)
        raise
    user_code = user_targets.PY_PREFIX + name if kind == user_targets.KIND else None
    return count_built(built, crosscheck=crosscheck, backward=backward, kernels=kernels, user_code=user_code)


def _raise_if_too_large(error: Exception) -> None:
    """A tensor too large for int64 sizes (torch: "Storage size calculation overflowed", Python: "int
    too large to convert") is the size's or the batch's fault: one TooLargeError line saying so."""
    from pacabench.messages import one_line
    from pacabench.targets import TooLargeError

    if isinstance(error, OverflowError) or (isinstance(error, RuntimeError) and "overflow" in str(error).lower()):
        raise TooLargeError(f"too large to count: a tensor of the forward pass would have more than 2^63 - 1 "
                            f"elements ({one_line(error)[:120]}); count a smaller size or batch") from None
