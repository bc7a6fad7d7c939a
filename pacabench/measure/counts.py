"""Count a target (model, segmentor or operator) at one input size on the meta device: the exact
counts every part of pacabench reports (rows, ``pacabench flops``, ``pacabench scaling``).

Nothing is allocated or computed, so any size is counted in about a second. The fields of
:meth:`TargetCount.row` are the count columns of a results row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from pacabench.measure.flops import FlopCount, count_flops, count_params, params_by_part


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
        }


def count_target(kind: str, name: str, params: Mapping, height: int, width: int, batch: int = 1, *,
                 crosscheck: bool = True, backward: bool = False) -> TargetCount:
    """Build the target on the meta device and count it (see :func:`count_flops` for the flags);
    raises ``pacabench.targets.TargetError`` for a target or size that cannot be built."""
    from pacabench.targets import build_target  # lazy: the measurement core must not need targets

    built = build_target(kind, name, params, height, width, batch, device="meta")
    return TargetCount(built=built, params=count_params(built.module),
                       params_by_part=params_by_part(built.module),
                       flops=count_flops(built.module, built.inputs, crosscheck=crosscheck,
                                         backward=backward))
