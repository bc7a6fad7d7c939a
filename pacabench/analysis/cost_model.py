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

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

MIN_SIZES = 4
"""Distinct sizes a cost model needs before it is checked (three coefficients plus one more)."""
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_WORK = 200_000
"""Sizes x samples per bootstrap at most: a sweep of more than 200 sizes gets fewer samples (never
under 200), so a run of a million rows is analysed in minutes."""
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


def _det3(m) -> int:
    return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))


def fit_counts(tokens, counts, relative_precision: float = 0.0) -> CostModel | None:
    """Least-squares ``c0 + c1*N + c2*N**2`` in exact arithmetic on integer counts (None with fewer
    than 3 distinct N): the normal equations of integers have integer sums, and Cramer's rule gives
    the coefficients as integers over one integer determinant, so every residual is an exact integer.
    ``relative_precision``: how far a count may be from the true integer (0 for exact integers;
    counts read back from float GMACs carry about 2 ulps); residuals within it count as zero."""
    points = sorted(zip((int(n) for n in tokens), (int(c) for c in counts)))
    if len({n for n, _ in points}) < 3:
        return None
    sums = [sum(n ** k for n, _ in points) for k in range(5)]
    matrix = [[sums[i + j] for j in range(3)] for i in range(3)]
    rhs = [sum(c * n ** i for n, c in points) for i in range(3)]
    det = _det3(matrix)
    if det == 0:
        return None
    numerators = [_det3([[rhs[i] if j == col else matrix[i][j] for j in range(3)] for i in range(3)])
                  for col in range(3)]
    residuals = [abs(c * det - (numerators[0] + numerators[1] * n + numerators[2] * n * n)) for n, c in points]
    tolerance = Fraction(relative_precision) * abs(det)
    exact = all(r <= tolerance * c for r, (_, c) in zip(residuals, points))
    largest = max(float(Fraction(r, abs(det) * c)) if c else 0.0 for r, (_, c) in zip(residuals, points))
    c0, c1, c2 = (float(Fraction(a, det)) for a in numerators)
    return CostModel(c0, c1, c2, tuple(n for n, _ in points), tuple(float(c) for _, c in points),
                     exact=exact, max_residual=largest, precision=relative_precision)


def _subsets(columns: int) -> list[tuple[int, ...]]:
    return [subset for size in range(1, columns + 1) for subset in itertools.combinations(range(columns), size)]


def nnls_columns(design: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Non-negative least squares of every column of ``targets`` (K x B) on ``design`` (K x C, a few
    columns) at once: with so few coefficients the solution is the best feasible least-squares fit
    over the column subsets (the optimum is the unconstrained fit on its own positive coefficients). Each
    subset's fit and residual come from the Gram matrix and ``design.T @ targets`` alone."""
    gram, cross = design.T @ design, design.T @ targets
    energy = (targets ** 2).sum(axis=0)
    best = energy                                          # all coefficients zero
    coefficients = np.zeros((design.shape[1], targets.shape[1]))
    for subset in _subsets(design.shape[1]):
        solution = np.linalg.pinv(gram[np.ix_(subset, subset)]) @ cross[list(subset)]
        residual = energy - (solution * cross[list(subset)]).sum(axis=0)
        better = (solution >= 0).all(axis=0) & (residual < best)
        best = np.where(better, residual, best)
        coefficients[:, better] = 0.0
        coefficients[np.ix_(subset, np.flatnonzero(better))] = solution[:, better]
    return coefficients


def _design(n: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns 1, N, N^2 (N scaled by its largest value, so the system is well conditioned) with rows
    weighted; and the factors that turn the scaled coefficients back into c0, c1, c2."""
    x = n / n.max()
    return np.stack([np.ones_like(x), x, x * x], axis=1) * weights[:, None], np.array([1.0, n.max(), n.max() ** 2])


def fit_measured(tokens, values, seed: int = 0) -> CostModel | None:
    """NNLS ``c0 + c1*N + c2*N**2`` on relative errors, with a residual bootstrap of the N^2 share at
    the largest N (relative residuals, inflated for the three fitted coefficients, resampled
    :data:`BOOTSTRAP_SAMPLES` times, fewer beyond 200 sizes: :data:`BOOTSTRAP_WORK`; refits weighted by the fitted values, so all samples share one
    design and are solved together); None with fewer than :data:`MIN_SIZES` distinct sizes. With so
    few points the nominal 95% interval is approximate: in simulations at 10% noise it holds the true
    share 73-81% of the time with 4 sizes and 85-87% with 6 (tests/test_analysis_cost_model.py)."""
    order = np.argsort(np.asarray(tokens, dtype=float), kind="stable")
    n = np.asarray(tokens, dtype=float)[order]
    y = np.asarray(values, dtype=float)[order]
    if np.unique(n).size < MIN_SIZES or (y <= 0).any():
        return None
    design, scale = _design(n, 1.0 / y)
    c0, c1, c2 = nnls_columns(design, np.ones((n.size, 1)))[:, 0] / scale
    fitted = c0 + c1 * n + c2 * n * n
    relative = y / fitted - 1.0
    # Fitted residuals are smaller than the noise by about sqrt((n - 3) / n) with 3 coefficients:
    # resample them inflated by its inverse (Davison & Hinkley's adjusted residual bootstrap).
    spread = relative * math.sqrt(n.size / (n.size - 3))
    samples_count = max(200, min(BOOTSTRAP_SAMPLES, BOOTSTRAP_WORK // n.size))
    draws = np.random.default_rng(seed).choice(spread, size=(n.size, samples_count), replace=True)
    weighted, scale = _design(n, 1.0 / fitted)
    samples = nnls_columns(weighted, 1.0 + draws) / scale[:, None]
    n_max = n.max()
    square = samples[2] * n_max * n_max
    total = samples[0] + samples[1] * n_max + square
    shares = np.where(total > 0, square / np.where(total > 0, total, 1.0), 0.0)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(shares, [tail, 100 - tail])
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
