"""Power-law fits of cost against tokens, and the linear / quadratic verdict they support.

For every series (one label at one batch / dtype / device / mode) and metric, ``cost = a * N**k``
is fitted by least squares on log(cost) against log(N), N = tokens at the first attention stage.
k comes with a 95% confidence interval from the t-distribution (n - 2 degrees of freedom).

Two fits are reported: over the whole range, and over the **upper half** of the range (points with
log N at or above the middle of the log-N range; at least the 3 largest N). The verdict uses the
upper-half fit, because real attention costs are sums ``a*N + b*N**2``: their log-log slope is
``(1 + 2x) / (1 + x)`` with ``x = b*N / a``, so a quadratic operator looks linear while the linear
projections dominate (small N) and only shows k -> 2 once ``b*N >> a``. Example: PVTv2 spatial-
reduction attention at width C=96, R=8, stride 4 costs about ``3.03*N*C**2 + 2*N**2*C/R**2`` MACs,
x = N/9300; from 224 px (N=3136) to 2048 px (N=262144) the whole-range fit gives k ~ 1.7, the
upper half (from ~680 px) k ~ 1.9.

Thresholds (``verdict``), on the upper-half fit:

- at least ``MIN_POINTS`` = 3 token counts with a value, otherwise inconclusive (too few points);
- linear: 0.75 <= k <= 1.25 (``LINEAR_BAND``); quadratic: 1.7 <= k <= 2.3 (``QUADRATIC_BAND``);
  anything else is inconclusive, naming the band it missed;
- and the 95% CI of k must stay clear of the *other* band (a linear call needs k_high < 1.7, a
  quadratic call k_low > 1.25), otherwise inconclusive (too noisy): the data must rule out the
  other answer, not only favour one. For exact counts (GMACs) the interval measures how much the
  log-log curve still bends over the upper half; for timings and memory it also holds the noise.

Why these bands: the linear band is +/-0.25 around 1, room for an O(N) cost with a fixed part
(weights, buffers) or run-time noise. The quadratic band reaches down to 1.7 because at x = 3 (the
quadratic term is 3/4 of the cost) the local slope is already 1.75; it stops short of the 1.25-1.7
gap, where sums of the two terms sit at the sizes measured and no honest call can be made (e.g. a
whole ViT-S backbone, whose MLPs and projections outweigh attention up to ~770 px, has an upper-half
k ~ 1.6-1.75 on sweeps to 2048 px).
Below 0.75, fixed costs dominate the range measured: extend the sweep.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pacabench.analysis.results import metric_rows

MIN_POINTS = 3
LINEAR_BAND = (0.75, 1.25)
QUADRATIC_BAND = (1.7, 2.3)
CONFIDENCE = 0.95
SCALING_METRICS = ("gmacs", "peak_mem_mb", "latency_ms_median")


@dataclass(frozen=True)
class PowerLawFit:
    """cost = a * N**k over ``n_points`` points from ``n_min`` to ``n_max`` tokens."""

    k: float
    k_low: float      # 95% CI; NaN with fewer than 3 points
    k_high: float
    a: float
    n_points: int
    n_min: int
    n_max: int


@dataclass(frozen=True)
class Verdict:
    verdict: str   # linear | quadratic | inconclusive
    reason: str


def fit_power_law(tokens, cost) -> PowerLawFit | None:
    """Least-squares fit of log cost on log tokens; None with fewer than 2 distinct token counts."""
    n = np.asarray(tokens, dtype=float)
    y = np.asarray(cost, dtype=float)
    keep = np.isfinite(n) & np.isfinite(y) & (n > 0) & (y > 0)
    n, y = n[keep], y[keep]
    if np.unique(n).size < 2:
        return None
    res = stats.linregress(np.log(n), np.log(y))
    if n.size > 2:
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, n.size - 2) * res.stderr
        low, high = res.slope - half, res.slope + half
    else:
        low = high = float("nan")
    return PowerLawFit(k=float(res.slope), k_low=float(low), k_high=float(high),
                       a=float(np.exp(res.intercept)), n_points=int(n.size),
                       n_min=int(n.min()), n_max=int(n.max()))


def upper_half(tokens) -> np.ndarray:
    """Mask of the points in the upper half of the log-N range, widened to the MIN_POINTS largest
    token counts (all points when there are fewer)."""
    n = np.asarray(tokens, dtype=float)
    log_n = np.log(n)
    mask = log_n >= (log_n.min() + log_n.max()) / 2
    distinct = np.unique(n)
    if np.unique(n[mask]).size < MIN_POINTS:
        mask = n >= distinct[-min(MIN_POINTS, distinct.size)]
    return mask


def fit_upper_half(tokens, cost) -> PowerLawFit | None:
    mask = upper_half(tokens)
    return fit_power_law(np.asarray(tokens)[mask], np.asarray(cost)[mask])


def verdict(fit: PowerLawFit | None, points: int = 0) -> Verdict:
    """Linear / quadratic / inconclusive for a fit (the upper-half fit), with the reason.
    ``points``: how many values there were when there are too few to fit (``fit`` None)."""
    if fit is None or fit.n_points < MIN_POINTS:
        got = points if fit is None else fit.n_points
        return Verdict("inconclusive", f"too few points: {got} < {MIN_POINTS} resolutions with a value")
    k = f"k={fit.k:.2f} [{fit.k_low:.2f}, {fit.k_high:.2f}]"
    if LINEAR_BAND[0] <= fit.k <= LINEAR_BAND[1]:
        if not fit.k_high < QUADRATIC_BAND[0]:
            return Verdict("inconclusive", f"too noisy: {k}, the 95% CI reaches the quadratic band "
                                           f"(>= {QUADRATIC_BAND[0]})")
        return Verdict("linear", f"{k} within the linear band {LINEAR_BAND[0]}-{LINEAR_BAND[1]}")
    if QUADRATIC_BAND[0] <= fit.k <= QUADRATIC_BAND[1]:
        if not fit.k_low > LINEAR_BAND[1]:
            return Verdict("inconclusive", f"too noisy: {k}, the 95% CI reaches the linear band "
                                           f"(<= {LINEAR_BAND[1]})")
        return Verdict("quadratic", f"{k} within the quadratic band {QUADRATIC_BAND[0]}-{QUADRATIC_BAND[1]}")
    if fit.k < LINEAR_BAND[0]:
        why = f"below the linear band ({LINEAR_BAND[0]}): fixed costs dominate this range"
    elif fit.k > QUADRATIC_BAND[1]:
        why = f"above the quadratic band ({QUADRATIC_BAND[1]})"
    else:
        why = f"between the linear ({LINEAR_BAND[1]}) and quadratic ({QUADRATIC_BAND[0]}) bands"
    return Verdict("inconclusive", f"{k} {why}")


TABLE_COLUMNS = ("series", "label", "kind", "metric", "batch", "dtype", "device", "mode",
                 "points", "tokens_min", "tokens_max", "resolution_min", "resolution_max",
                 "k", "k_low", "k_high", "k_upper", "k_upper_low", "k_upper_high", "upper_points",
                 "verdict", "reason")


def scaling_table(df: pd.DataFrame, metrics=SCALING_METRICS) -> pd.DataFrame:
    """One row per (series, metric): both fits and the verdict. ``df`` is a labelled results frame.
    Metrics without a single value in the run (not measured) get no rows."""
    out = []
    for metric in metrics:
        rows = metric_rows(df, metric) if metric in df.columns else df.iloc[0:0]
        if rows.empty:
            continue
        for series in df["series"].unique():
            part = rows[rows["series"] == series].sort_values("tokens")
            first = df[df["series"] == series].iloc[0]
            full = fit_power_law(part["tokens"], part[metric]) if len(part) else None
            upper = fit_upper_half(part["tokens"], part[metric]) if len(part) else None
            v = verdict(upper, points=len(part))
            out.append({
                "series": series, "label": first["label"], "kind": first["kind"], "metric": metric,
                "batch": first["batch"], "dtype": first["dtype"], "device": first["device"],
                "mode": first["mode"], "points": len(part),
                "tokens_min": part["tokens"].min() if len(part) else None,
                "tokens_max": part["tokens"].max() if len(part) else None,
                "resolution_min": part["resolution"].iloc[0] if len(part) else None,
                "resolution_max": part["resolution"].iloc[-1] if len(part) else None,
                "k": full.k if full else np.nan, "k_low": full.k_low if full else np.nan,
                "k_high": full.k_high if full else np.nan,
                "k_upper": upper.k if upper else np.nan, "k_upper_low": upper.k_low if upper else np.nan,
                "k_upper_high": upper.k_high if upper else np.nan,
                "upper_points": upper.n_points if upper else 0,
                "verdict": v.verdict, "reason": v.reason,
            })
    return pd.DataFrame(out, columns=list(TABLE_COLUMNS))
