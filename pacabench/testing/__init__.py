"""Assertions on what a model or an attention costs, for your own test suite.

    from pacabench.testing import assert_gmacs, assert_scaling

    def test_my_attention_stays_linear():
        assert_scaling("py:my_attention:make", "linear")      # or the factory itself

    def test_my_attention_cost_at_224():
        assert_gmacs("py:my_attention:make", 0.2238, resolution=224, rel=1e-3)

With pacabench installed, pytest also offers these as the ``pacabench`` fixture (no import needed):
``def test_x(pacabench): pacabench.assert_scaling(...)``. Targets and factories are those of
:mod:`pacabench.api`; counting runs on the meta device, so these tests allocate nothing and never
flake: counts are exact.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["assert_gmacs", "assert_scaling"]


def assert_scaling(target, expected: str, *, resolutions: Sequence | None = None, metric: str = "gmacs",
                   batch: int = 1, **params):
    """Fail unless the exact cost model of ``target``'s GMACs (``metric="gmacs_mixing"``: its mixing
    GMACs alone) gets the verdict ``expected`` ("linear" or "quadratic"); the message names the
    verdict, its sentence, the cost model and the counts. Returns the :class:`pacabench.api.Scaling`."""
    from pacabench import api

    if expected not in ("linear", "quadratic"):
        raise ValueError(f"expected must be 'linear' or 'quadratic', got {expected!r}")
    if metric not in ("gmacs", "gmacs_mixing"):
        raise ValueError(f"metric must be 'gmacs' or 'gmacs_mixing', got {metric!r}")
    result = api.cost_model(target, resolutions, batch=batch, **params)
    row = result.table.set_index("metric").loc[metric]
    if row["verdict"] != expected:
        counts = ", ".join(f"{r.resolution}: {getattr(r, metric):.6g}" for r in result.counts.itertuples())
        raise AssertionError(
            f"{result.target}: expected {expected} scaling of {metric}, got {row['verdict']}: {row['reason']}\n"
            f"  cost model ({row['method']}): c0 = {row['c0']:.6g}, c1 = {row['c1']:.6g} per token, "
            f"c2 = {row['c2']:.6g} per token² (GMACs; N = tokens at the first attention stage)\n"
            f"  {metric} counted: {counts}")
    return result


def assert_gmacs(target, expected: float, *, resolution=224, rel: float = 0.0, batch: int = 1,
                 part: str = "gmacs", **params):
    """Fail unless ``target``'s GMACs (``part``: "gmacs", "gmacs_mixing", "gmacs_dense" or
    "gmacs_other") at ``resolution`` equal ``expected`` within ``rel`` (relative; 0: exactly, counts
    are exact). Returns the :class:`pacabench.api.Count`."""
    from pacabench import api

    counted = api.count(target, resolution, batch=batch, **params)
    got = getattr(counted, part)
    if not math.isclose(got, expected, rel_tol=rel, abs_tol=0.0 if rel else 1e-12):
        difference = (got - expected) / expected if expected else math.inf
        raise AssertionError(
            f"{counted.target} at {counted.height}x{counted.width}, batch {batch}: {part} = {got:.6g}, expected "
            f"{expected:.6g} ({difference:+.3%}, allowed {rel:.3%}); GMACs {counted.gmacs:.6g} = mixing "
            f"{counted.gmacs_mixing:.6g} + dense {counted.gmacs_dense:.6g} + other {counted.gmacs_other:.6g}")
    return counted
