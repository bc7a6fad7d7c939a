"""Latency read against the work: does the measured time confirm how the counts grow?

A machine does not run every size at one speed: activations leave the caches, another process takes
a core, a kernel changes. So a fit of ``c0 + c1*N + c2*N**2`` to time cannot tell a quadratic cost
from linear work on a machine that slowed down once. This module reads time per token,
``u(N) = t(N) / N``, and asks which of two shapes explains it better:

- **growth**: ``u = a/N + b + c*N`` (the time of a cost ``a + b*N + c*N**2``): time per token keeps
  growing with N, in proportion, over the top of the measured range;
- **a step that levels off**: ``u = a/N + b + d*[N >= N_s]``: time per token jumps once between two
  sizes (at least two sizes on each side) and stays there.

Both are fitted by non-negative least squares on relative errors, to the same points: one cell that
a load burst slowed down (:func:`_burst`; only a cell timed once or whose timing passes differ,
:func:`may_be_bursts`) is left out of both. The verdict on the time alone:

- ``quadratic`` when growth carries at least :data:`GROWTH_SHARE` of the time at the largest size,
  is more than noise (an F test against a flat time per token), fits clearly better than any step
  (its squared relative residual at most :data:`CLEARLY_BETTER` of the step's), and is still
  significant without the largest size (one slow cell at the end is not growth);
- ``linear`` when growth carries less than that share or is no more than noise (an F test against a
  flat time per token), or when a step that levels off fits clearly better (the step is named: where,
  and by how much);
- ``inconclusive`` with the reason: fewer than :data:`MIN_SIZES` sizes or a span under
  :data:`MIN_SPAN` x in tokens, or growth and a step that explain the data about equally well.

:func:`pacabench.analysis.scaling.latency_scaling` then reads that against the exact counts (growth
over linear work is the machine's; time that grows as the exact work per token does confirms an N^2
term, :func:`follows_work`) and adds the achieved GMAC/s. How often each verdict of the time
alone is right on simulated data with known truth (cache steps, hidden N^2 terms of 10% and 30%,
5-20% noise, load bursts) is measured by ``tests/simulated_latency.py`` and written in the README.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from pacabench.analysis.cost_model import nnls_columns

MIN_SIZES = 5
"""Distinct sizes with a latency that a verdict needs."""
MIN_SPAN = 4.0
"""Largest over smallest token count that a verdict needs."""
BURST = 4.0
"""A point this many times further above the fit than the others' typical residual is one cell slowed
by a load burst, and is left out of both fits."""
GROWTH_SHARE = 0.10
"""Share of the time at the largest size that growth must carry to be called quadratic."""
SIGNIFICANCE = 0.01
"""Growth counts only when it fits significantly better than no growth at all (an F test at this
level): noise alone rarely looks like growth."""
CLEARLY_BETTER = 0.6
"""One shape beats the other when it leaves at most this fraction of the other's squared relative
residual."""
PASSES_AGREE = 1.25
"""A cell whose timing passes lie within this factor of each other was not slowed by a burst."""


@dataclass(frozen=True)
class Step:
    """Time per token jumps by ``factor`` between ``before`` and ``at`` tokens, then levels off."""

    before: int
    at: int
    factor: float


@dataclass(frozen=True)
class LatencyReading:
    """The verdict on one series' latency, and what it rests on."""

    verdict: str                      # linear | quadratic | inconclusive
    why: str                          # the evidence in a clause ("time per token grows ...")
    growth_share: float | None        # growth's share of the time at the largest size
    step: Step | None                 # the step that levels off, when the verdict rests on one
    per_token_change: float | None    # time per token, largest size over smallest
    residual_growth: float | None     # RMS relative residual of each shape
    residual_step: float | None


def _columns(n: np.ndarray, third: np.ndarray) -> np.ndarray:
    """Design columns a/N (a fixed overhead that small sizes pay per token), b, and the shape's own
    column, scaled to [0, 1] so the Gram matrix is well conditioned."""
    return np.stack([n.min() / n, np.ones_like(n), third], axis=1)


def _fit(n: np.ndarray, u: np.ndarray, third: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """NNLS of ``u`` on the columns of one shape (:func:`_columns`)."""
    return _fit_design(u, _columns(n, third))


def _fit_design(u: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """NNLS of ``u`` on ``design``'s columns, relative errors: (fitted values, RMS relative residual,
    coefficients)."""
    coefficients = nnls_columns(design / u[:, None], np.ones((u.size, 1)))[:, 0]
    fitted = design @ coefficients
    relative = u / np.where(fitted > 0, fitted, np.inf) - 1.0
    return fitted, float(np.sqrt(np.mean(relative ** 2))), coefficients


def _growth(n: np.ndarray, u: np.ndarray) -> tuple[float, float]:
    """(growth's share of the time at the largest size, RMS relative residual)."""
    fitted, residual, coefficients = _fit(n, u, n / n.max())
    share = coefficients[-1] / fitted[-1] if fitted[-1] > 0 else 0.0
    return float(share), residual


def _best_step(n: np.ndarray, u: np.ndarray) -> tuple[Step | None, float]:
    """The step (two sizes or more on each side) that fits best, and its RMS relative residual."""
    best, best_residual = None, np.inf
    for j in range(2, n.size - 1):
        fitted, residual, coefficients = _fit(n, u, (np.arange(n.size) >= j).astype(float))
        if residual < best_residual:
            factor = fitted[j] / (fitted[j] - coefficients[-1]) if coefficients[-1] > 0 else 1.0
            best, best_residual = Step(int(n[j - 1]), int(n[j]), float(factor)), residual
    return best, float(best_residual)


def _without(n: np.ndarray, u: np.ndarray, i: int) -> tuple[float, float]:
    """Fit both shapes without point ``i``: the better one's RMS relative residual and what it
    predicts at point ``i``."""
    kept = np.arange(n.size) != i
    nk, uk = n[kept], u[kept]
    _, residual, coefficients = _fit(nk, uk, nk / n.max())
    third = n[i] / n.max()
    step, stepped = _best_step(nk, uk)
    if step is not None and stepped < residual:
        _, residual, coefficients = _fit(nk, uk, (nk >= step.at).astype(float))
        third = float(n[i] >= step.at)
    return residual, float(coefficients @ np.array([nk.min() / n[i], 1.0, third]))


def _burst(n: np.ndarray, u: np.ndarray, suspects: np.ndarray) -> int | None:
    """The one cell a load burst slowed down, if one stands out: of the ``suspects``, the point whose
    removal lets a shape fit best, when it lies above that fit by more than :data:`BURST` times the
    others' RMS residual."""
    fits = {i: _without(n, u, i) for i in np.flatnonzero(suspects)}
    if not fits:
        return None
    i = min(fits, key=lambda j: fits[j][0])
    residual, predicted = fits[i]
    return int(i) if predicted > 0 and u[i] / predicted - 1.0 > BURST * max(residual, 0.01) else None


def _without_burst(n: np.ndarray, u: np.ndarray, suspects: np.ndarray, *more: np.ndarray) -> list[np.ndarray]:
    """``n``, ``u`` and ``more`` without the one cell a load burst slowed down, if one stands out."""
    burst = _burst(n, u, suspects)
    arrays = [n, u, *more]
    return arrays if burst is None else [np.delete(a, burst) for a in arrays]


def _sizes_and_span(n: np.ndarray) -> tuple[int, float]:
    """Distinct sizes, and largest over smallest token count."""
    sizes = int(np.unique(n).size)
    return sizes, float(n.max() / n.min()) if sizes else 0.0


def may_be_bursts(passes) -> np.ndarray:
    """Which cells a load burst may have slowed, from each cell's list of per-pass latencies: those
    timed once, and those whose passes differ by more than :data:`PASSES_AGREE`. Passes are minutes
    apart, so a burst slows one of them; a cell whose passes agree ran at its own speed, however far
    it lies from the others."""
    out = []
    for times in passes:
        times = [float(t) for t in times or [] if isinstance(t, (int, float)) and np.isfinite(t) and t > 0]
        out.append(len(times) < 2 or max(times) > PASSES_AGREE * min(times))
    return np.asarray(out, dtype=bool)


@dataclass(frozen=True)
class _Shapes:
    """Growth, the best step and no change at all, fitted to the same points (a burst left out)."""

    share: float            # growth's share of the time at the largest size
    growth: float           # RMS relative residuals of growth, the best step, no change
    stepped: float
    flat: float
    step: Step | None
    points: int

    def significant(self) -> bool:
        """Growth carries enough of the time and fits better than no change beyond what one more
        coefficient buys from noise (an F test at :data:`SIGNIFICANCE`)."""
        dof = self.points - 3
        if self.share < GROWTH_SHARE or dof <= 0 or self.flat <= self.growth:
            return False
        improvement = (self.flat ** 2 - self.growth ** 2) / max(self.growth ** 2, 1e-12) * dof
        return bool(improvement > stats.f.ppf(1 - SIGNIFICANCE, 1, dof))

    def grows(self) -> bool:
        """Significant growth that fits clearly better than any step that levels off."""
        return self.significant() and self.growth ** 2 <= CLEARLY_BETTER * self.stepped ** 2

    def steps(self) -> bool:
        """A step that levels off fits clearly better than growth."""
        return self.stepped ** 2 <= CLEARLY_BETTER * self.growth ** 2


def _shapes(n: np.ndarray, u: np.ndarray, suspects: np.ndarray) -> _Shapes:
    n, u = _without_burst(n, u, suspects)
    share, growth = _growth(n, u)
    step, stepped = _best_step(n, u)
    _, flat, _ = _fit(n, u, np.zeros_like(n))
    return _Shapes(share, growth, stepped, flat, step, int(n.size))


def _sorted(tokens, latency, suspects, *more) -> list[np.ndarray]:
    """The arrays in order of tokens, cells without a positive latency (or ``more`` value) left out;
    ``suspects`` None: any cell may be a burst."""
    n = np.asarray(tokens, dtype=float)
    suspects = np.ones(n.size, dtype=bool) if suspects is None else np.asarray(suspects, dtype=bool)
    arrays = [n, np.asarray(latency, dtype=float), suspects, *(np.asarray(m, dtype=float) for m in more)]
    order = np.argsort(n, kind="stable")
    arrays = [a[order] for a in arrays]
    keep = (arrays[0] > 0) & np.all([np.isfinite(a) & (a > 0) for a in arrays[:2] + arrays[3:]], axis=0)
    return [a[keep] for a in arrays]


def read_latency(tokens, latency, suspects=None) -> LatencyReading:
    """The verdict on latency ``latency`` (any unit) measured at ``tokens`` (distinct, any order);
    ``suspects`` marks the cells a load burst may have slowed (:func:`may_be_bursts`; None: any)."""
    n, t, suspects = _sorted(tokens, latency, suspects)
    sizes, span = _sizes_and_span(n)
    if sizes < MIN_SIZES or span < MIN_SPAN:
        return LatencyReading("inconclusive", f"latency at {sizes} size(s) spanning x{span:.1f} in tokens; a verdict "
                                              f"needs {MIN_SIZES} spanning x{MIN_SPAN:g} or more",
                              None, None, None, None, None)
    u = t / n
    change = float(u[-1] / u[0])
    shapes = _shapes(n, u, suspects)
    share, step = shapes.share, shapes.step
    reading = dict(growth_share=share, step=None, per_token_change=change, residual_growth=shapes.growth,
                   residual_step=shapes.stepped)
    trend = f"time per token changes x{change:.2f} from the smallest size to the largest"
    if not shapes.significant():
        return LatencyReading("linear", f"{trend}; no growth in proportion to N that the noise does not explain "
                                        f"(a fit gives it {share:.0%} of the time at the largest size; a quadratic "
                                        f"needs {GROWTH_SHARE:.0%} and more than noise)", **reading)
    if shapes.grows():
        if not _shapes(n[:-1], u[:-1], suspects[:-1]).significant():
            return LatencyReading("inconclusive", f"{trend}, but only the largest size shows growth rather than a "
                                                  f"step (a slow last cell?); measure a larger size", **reading)
        return LatencyReading("quadratic", f"{trend}: it keeps growing with N, {share:.0%} of the time at the "
                                           f"largest size in proportion to N, which no step that levels off "
                                           f"explains", **reading)
    if shapes.steps():
        reading["step"] = step
        return LatencyReading("linear", f"{trend}, in one step of x{step.factor:.2f} between {step.before:,} and "
                                        f"{step.at:,} tokens that then levels off (the machine, e.g. activations "
                                        f"leaving a cache), not growth in proportion to N", **reading)
    return LatencyReading("inconclusive", f"{trend}; growth in proportion to N ({share:.0%} of the time at the "
                                          f"largest size) and a step of x{step.factor:.2f} that levels off fit "
                                          f"about equally well; measure more sizes or passes", **reading)


@dataclass(frozen=True)
class WorkReading:
    """Does time per token grow as the exact work per token does?"""

    follows: bool
    time_change: float      # time per token, largest size over smallest (a burst left out)
    work_change: float      # counted work per token, the same
    residual_work: float    # RMS relative residual of time = overhead + rate x work
    residual_flat: float    # ... of a flat time per token
    residual_step: float    # ... of the best step that levels off


def follows_work(tokens, latency, work, suspects=None) -> WorkReading | None:
    """Read time per token against the counted work per token ``work / tokens`` (exact MACs or bytes
    of each cell): it *follows* the work when ``u = a/N + r * w(N)``, a fixed overhead plus one rate
    over the exact work, fits clearly better than a flat time per token (the same two coefficients,
    at most :data:`CLEARLY_BETTER` of its squared residual) and no step that levels off fits better
    by more than its two extra coefficients buy. The counts fix the shape, so the time only has to
    confirm it, with one coefficient fewer than a free fit of growth; the README gives how often it
    is right on simulated series. None with too few sizes."""
    n, t, suspects, w = _sorted(tokens, latency, suspects, work)
    sizes, span = _sizes_and_span(n)
    if sizes < MIN_SIZES or span < MIN_SPAN:
        return None
    n, u, v = _without_burst(n, t / n, suspects, w / n)
    _, worked, _ = _fit_design(u, np.stack([n.min() / n, v / v.max()], axis=1))
    _, flat, _ = _fit(n, u, np.zeros_like(n))
    _, stepped = _best_step(n, u)
    # a step has two coefficients more (its height and where it is): it must fit better by more than
    # they buy from noise (Akaike's criterion: a factor exp(2 * 2 / n) on the squared residual)
    follows = worked ** 2 <= CLEARLY_BETTER * flat ** 2 and worked ** 2 <= np.exp(4 / n.size) * stepped ** 2
    return WorkReading(bool(follows), float(u[-1] / u[0]), float(v[-1] / v[0]), worked, flat, stepped)
