"""Cost models: how a cost grows with the number of tokens N, as ``c0 + c1*N + c2*N**2``.

Every attention design costs such a sum: weights applied per token (c1), products of two
activations that grow with N (c2: global attention, spatial-reduction attention), and fixed costs
(c0: a classifier, a fixed number of detections). A power-law slope over a finite range cannot
tell "linear" from "quadratic with a small c2"; the coefficients can.

- **Counts** (MACs) are exact integers, so their model is fitted in exact rational arithmetic
  (:func:`fit_counts`): the residual is zero when the model is exact, and then ``c2 > 0`` is a
  fact, not an estimate. With three sizes any quadratic fits, so a fourth is needed to check the
  model. Counts that are not a polynomial in N (windows padded at some sizes) leave a residual,
  reported as the evidence.
- **Measured** metrics (latency, memory) are noisy: non-negative least squares on relative errors,
  and a residual bootstrap of the N^2 term's share of the cost at the largest size
  (:func:`fit_measured`).

N is the number of tokens at the first attention stage; coefficients are in the metric's unit per
token and per token^2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import nnls

MIN_SIZES = 4
"""Distinct sizes a cost model needs before it is checked (three coefficients plus one more)."""
BOOTSTRAP_SAMPLES = 1000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class CostModel:
    """``c0 + c1*N + c2*N**2`` fitted on ``tokens`` / ``values`` (sorted by tokens)."""

    c0: float
    c1: float
    c2: float
    tokens: tuple[int, ...]
    values: tuple[float, ...]
    exact: bool              # counts: the model reproduces every count (to the counts' precision)
    max_residual: float      # largest |residual| / value over the points
    share_low: float | None = None   # measured: bootstrap interval of the N^2 share at the largest N
    share_high: float | None = None
    precision: float = 0.0   # counts: relative uncertainty of each count (0: exact integers)

    @property
    def points(self) -> int:
        return len(set(self.tokens))

    def has_quadratic_term(self) -> bool:
        """``c2 > 0`` beyond the counts' precision: the N^2 term at the largest N is more than the
        uncertainty of the count there (for exact integers: any ``c2 > 0``)."""
        n_max = max(self.tokens)
        return self.c2 > 0 and self.c2 * n_max * n_max > self.precision * max(self.values)

    def predict(self, n: float) -> float:
        return self.c0 + self.c1 * n + self.c2 * n * n

    def quadratic_share(self) -> list[float]:
        """``c2*N**2`` over the cost at each point (clipped to [0, 1])."""
        return [min(max(self.c2 * n * n / v, 0.0), 1.0) if v > 0 else 0.0
                for n, v in zip(self.tokens, self.values)]

    def dominance_tokens(self) -> float | None:
        """N from which ``c2*N**2`` exceeds ``c0 + c1*N``; None when there is no N^2 term."""
        if self.c2 <= 0:
            return None
        discriminant = self.c1 * self.c1 + 4 * self.c2 * self.c0
        if discriminant <= 0:  # c0 < 0 and small: the N^2 term leads from N = 0
            return 0.0
        return max((self.c1 + math.sqrt(discriminant)) / (2 * self.c2), 0.0)


def _solve3(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction] | None:
    """Gaussian elimination in exact arithmetic; None for a singular system."""
    rows = [row[:] + [value] for row, value in zip(matrix, rhs)]
    for col in range(3):
        pivot = next((r for r in range(col, 3) if rows[r][col] != 0), None)
        if pivot is None:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(3):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return [rows[i][3] / rows[i][i] for i in range(3)]


def fit_counts(tokens, counts, relative_precision: float = 0.0) -> CostModel | None:
    """Least-squares ``c0 + c1*N + c2*N**2`` in exact rational arithmetic on integer counts (None
    with fewer than 3 distinct N). ``relative_precision``: how far a count may be from the true
    integer (0 for exact integers; counts read back from float GMACs carry about 2 ulps); residuals
    within it count as zero."""
    points = sorted(zip((int(n) for n in tokens), (int(c) for c in counts)))
    if len({n for n, _ in points}) < 3:
        return None
    powers = [[Fraction(n) ** k for k in range(3)] for n, _ in points]
    matrix = [[sum(p[i] * p[j] for p in powers) for j in range(3)] for i in range(3)]
    rhs = [sum(p[i] * c for p, (_, c) in zip(powers, points)) for i in range(3)]
    coefficients = _solve3(matrix, rhs)
    if coefficients is None:
        return None
    c0, c1, c2 = coefficients
    residuals = [abs(c - (c0 + c1 * n + c2 * n * n)) for n, c in points]
    exact = all(r <= relative_precision * c for r, (_, c) in zip(residuals, points))
    largest = max(float(r) / c if c else 0.0 for r, (_, c) in zip(residuals, points))
    return CostModel(float(c0), float(c1), float(c2), tuple(n for n, _ in points),
                     tuple(float(c) for _, c in points), exact=exact, max_residual=largest,
                     precision=relative_precision)


def _nnls_fit(n: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative (c0, c1, c2) minimising relative errors; columns scaled by the largest N so the
    system is well conditioned."""
    scale = n.max()
    x = n / scale
    design = np.stack([np.ones_like(x), x, x * x], axis=1) / y[:, None]
    coefficients, _ = nnls(design, np.ones_like(y))
    return coefficients / np.array([1.0, scale, scale * scale])


def fit_measured(tokens, values, seed: int = 0) -> CostModel | None:
    """NNLS ``c0 + c1*N + c2*N**2`` with a residual bootstrap (relative residuals, inflated for the
    three fitted coefficients, resampled :data:`BOOTSTRAP_SAMPLES` times) of the N^2 share at the
    largest N; None with fewer than :data:`MIN_SIZES` distinct sizes. With so few points the
    nominal 95% interval is approximate: in simulations at 10% noise it holds the true share 73-81%
    of the time with 4 sizes and 85-87% with 6 (tests/test_analysis_cost_model.py)."""
    order = np.argsort(np.asarray(tokens, dtype=float), kind="stable")
    n = np.asarray(tokens, dtype=float)[order]
    y = np.asarray(values, dtype=float)[order]
    if np.unique(n).size < MIN_SIZES or (y <= 0).any():
        return None
    c0, c1, c2 = _nnls_fit(n, y)
    fitted = c0 + c1 * n + c2 * n * n
    relative = y / fitted - 1.0
    # Fitted residuals are smaller than the noise by about sqrt((n - 3) / n) with 3 coefficients:
    # resample them inflated by its inverse (Davison & Hinkley's adjusted residual bootstrap).
    spread = relative * math.sqrt(n.size / (n.size - 3))
    rng = np.random.default_rng(seed)
    n_max = n.max()
    shares = []
    for _ in range(BOOTSTRAP_SAMPLES):
        resampled = fitted * (1.0 + rng.choice(spread, size=spread.size, replace=True))
        if (resampled <= 0).any():
            continue
        b0, b1, b2 = _nnls_fit(n, resampled)
        total = b0 + b1 * n_max + b2 * n_max * n_max
        shares.append(b2 * n_max * n_max / total if total > 0 else 0.0)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = (np.percentile(shares, [tail, 100 - tail]) if shares else (math.nan, math.nan))
    return CostModel(float(c0), float(c1), float(c2), tuple(int(v) for v in n), tuple(float(v) for v in y),
                     exact=False, max_residual=float(np.abs(relative).max()),
                     share_low=float(low), share_high=float(high))


def per_token_slope(tokens, values) -> float | None:
    """Log-log slope of ``value / N`` against N: about 0 for a cost that grows like N, 1 for N^2."""
    n = np.asarray(tokens, dtype=float)
    per_token = np.asarray(values, dtype=float) / n
    keep = per_token > 0
    if np.unique(n[keep]).size < 2:
        return None
    return float(np.polyfit(np.log(n[keep]), np.log(per_token[keep]), 1)[0])
