"""Verdicts on how each series' costs grow with the number of tokens N, with their evidence.

For every series (one label at one batch / dtype / device / mode) and metric the cost model
``c0 + c1*N + c2*N**2`` of :mod:`~pacabench.analysis.cost_model` is fitted (N = tokens at the first
attention stage) and turned into a verdict and a sentence a reader understands without knowing
what a fit is:

- **Counts** (``gmacs``, and ``gmacs_mixing``: the products of two activations alone; and the exact
  byte metrics: ``bytes_written``, ``peak_mem_predicted_mb`` read back as bytes): the model is
  exact, so the verdict is a fact: ``quadratic`` when the counts carry an N^2 term (c2 > 0 beyond the
  counts' float precision), ``linear`` when c2 = 0; checked on every size beyond the third (fewer
  than :data:`~pacabench.analysis.cost_model.MIN_SIZES` sizes: inconclusive, since three sizes fit
  any quadratic). Counts that are not a polynomial in N (Swin's windows padded at sizes that are not
  multiples of the window) are called by the growth of their mixing MACs per token (bytes: of
  themselves; a peak that moves between points of the pass: over the upper half of the sizes)
  (:data:`~pacabench.analysis.anatomy.QUADRATIC_SLOPE`), and the residual says how far they are from
  a polynomial. The modules whose own counts carry the N^2 term are named (for the peak: the modules
  whose own peak carries it).
- **Latency** is read against the work (:mod:`~pacabench.analysis.latency`): ``quadratic`` when time
  per token keeps growing with N, in proportion, ``linear`` when it does not (a step that levels off
  is the machine's, and is named), with the achieved GMAC/s (and bytes/s) at each size beside it and
  what the verdict says about the counts (confirmed, a machine that slows down, or an N^2 tensor
  made without multiplies).
- **Measured** peak memory: NNLS fit and a bootstrap interval of the N^2 term's share of the cost at
  the largest size. ``quadratic`` when the interval's lower end is at least
  :data:`QUADRATIC_SHARE`, ``linear`` when its upper end is below it (the data rule out an N^2 term of
  that size), else inconclusive, saying what cannot be ruled out.

Also reported per row: the N^2 term's share of the cost at every size, the *dominance resolution*
(the side of a square input from which c2*N^2 exceeds c0 + c1*N; extrapolated when beyond the
sizes measured), and, as a secondary column, the power-law slope ``k`` of ``cost = a*N**k`` over
the upper half of the token range with its 95% confidence interval.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pacabench.analysis.anatomy import QUADRATIC_SLOPE, carriers_text
from pacabench.analysis.cost_model import MIN_SIZES, CostModel, fit_counts, fit_measured, per_token_slope
from pacabench.analysis.latency import GROWTH_SHARE, follows_work, may_be_bursts, read_latency
from pacabench.analysis.results import metric_rows, resolution_text

COUNT_METRICS = ("gmacs", "gmacs_mixing", "bytes_written", "peak_mem_predicted_mb")
SCALING_METRICS = ("gmacs", "gmacs_mixing", "bytes_written", "peak_mem_predicted_mb", "peak_mem_mb",
                   "latency_ms_median")
NOUNS = {"gmacs": "GMACs", "gmacs_mixing": "mixing GMACs", "bytes_written": "bytes written",
         "peak_mem_predicted_mb": "predicted peak memory", "peak_mem_mb": "peak memory",
         "latency_ms_median": "latency"}
"""How a sentence names each metric."""
EXACT_UNITS = {"gmacs": (1e9, "MACs"), "gmacs_mixing": (1e9, "MACs"), "bytes_written": (1, "bytes"),
               "peak_mem_predicted_mb": (2**20, "bytes")}
"""Exact metrics: (the column's unit in integers, what the integers are). Predicted peak memory is
bytes / 2**20, exact in a float, so it is read back as exact bytes."""
MODULE_COLUMNS = {"gmacs": "module_macs", "gmacs_mixing": "module_macs", "bytes_written": "module_bytes",
                  "peak_mem_predicted_mb": "module_peak_bytes"}
"""Where each exact metric's modules are: their own counts locate its N^2 term."""
QUADRATIC_SHARE = 0.10
"""Measured metrics: an N^2 term below this share of the cost at the largest size is too small to
call quadratic, and the data must bound the share on one side of it for a verdict."""
COUNT_PRECISION = 4.5e-16
"""Relative precision of a count read back from float GMACs (about 2 ulps)."""
CONFIDENCE = 0.95


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


def fit_upper_half(tokens, cost) -> PowerLawFit | None:
    """The power law over the points in the upper half of the log-N range (at least the 3 largest):
    the local slope where the largest term matters most."""
    n = np.asarray(tokens, dtype=float)
    if n.size == 0:
        return None
    log_n = np.log(n)
    mask = log_n >= (log_n.min() + log_n.max()) / 2
    distinct = np.unique(n)
    if np.unique(n[mask]).size < 3:
        mask = n >= distinct[-min(3, distinct.size)]
    return fit_power_law(n[mask], np.asarray(cost, dtype=float)[mask])


@dataclass(frozen=True)
class Scaling:
    """The verdict on one series and metric, with its cost model and evidence."""

    verdict: str                   # linear | quadratic | inconclusive
    reason: str                    # the verdict in one sentence
    model: CostModel | None
    method: str                    # exact | exact, unchecked | not a polynomial | nnls + bootstrap | none
    quadratic_modules: str = ""    # where the N^2 term lives (counts)
    machine: dict | None = None    # latency: the machine's share (achieved rates per size, a step)


# ----------------------------------------------------------------------------- counts

def _counts(part: pd.DataFrame, metric: str) -> tuple[list[int], list[int]]:
    scale = EXACT_UNITS[metric][0]
    return [int(n) for n in part["tokens"]], [round(v * scale) for v in part[metric]]


def _precision(metric: str) -> float:
    """GMACs are read back from floats rounded at 1e9 MACs; bytes and MiB of bytes are exact."""
    return COUNT_PRECISION if EXACT_UNITS[metric][0] == 1e9 else 0.0


def count_scaling(part: pd.DataFrame, metric: str, stride: float) -> Scaling:
    """The exact cost model of a series' counts (``part``: its rows with a value, sorted by tokens)."""
    tokens, counts = _counts(part, metric)
    what = NOUNS[metric]
    sizes = len(set(tokens))
    model = fit_counts(tokens, counts, _precision(metric))
    if model is None:
        return Scaling("inconclusive", f"inconclusive: {sizes} size(s) with {what}; a cost model needs "
                                       f"{MIN_SIZES}", None, "none")
    component = "mixing" if metric == "gmacs_mixing" else "total"
    if sizes < MIN_SIZES:
        return Scaling("inconclusive", f"inconclusive: {sizes} sizes fit any c0 + c1·N + c2·N² exactly; "
                                       f"count a fourth size to check the model", model, "exact, unchecked")
    if not model.exact:
        return _non_polynomial(part, metric, model, stride)
    if not model.has_quadratic_term():
        return Scaling("linear", f"linear: no N² term; c0 + c1·N reproduces all {sizes} sizes exactly "
                                 f"({model.c1:,.0f} {EXACT_UNITS[metric][1]} per token)", model, "exact")
    where = carriers_text(part, component, exact_series=True, column=MODULE_COLUMNS[metric])
    return Scaling("quadratic", _quadratic_sentence(model, what, where, part, stride), model, "exact", where)


def _non_polynomial(part: pd.DataFrame, metric: str, model: CostModel, stride: float) -> Scaling:
    """Counts off any polynomial in N: decided on the growth of the mixing MACs per token, exactly
    when the mixing MACs themselves are a polynomial (a detector whose P6 rounds up, say), else on
    their per-token slope (windows padded at some sizes)."""
    on_mixing = metric == "gmacs" and "gmacs_mixing" in part.columns and part["gmacs_mixing"].notna().all()
    basis = "gmacs_mixing" if on_mixing else metric
    tokens, values = _counts(part, basis)
    what = "mixing MACs" if basis == "gmacs_mixing" else NOUNS[metric]
    peak = metric == "peak_mem_predicted_mb"
    lead = (f"counts are not a polynomial in N (c0 + c1·N + c2·N² misses by up to {_percents(model.max_residual)}, "
            + ("the peak moves from one point of the pass to another as N grows)" if peak else
               "e.g. a window padded or a feature map rounded up at some sizes)"))
    if basis != metric:
        mixing = fit_counts(tokens, values, _precision(basis))
        if mixing is not None and mixing.exact:
            return _on_exact_mixing(part, metric, model, mixing, lead, stride)
    # A peak is the largest of several polynomials (one per point of the pass): the largest sizes
    # show the one that stays, so its growth is read over the upper half of the range.
    first = _upper_half_start(tokens) if peak else 0
    tokens, values = tokens[first:], values[first:]
    per_token = [v / n for n, v in zip(tokens, values)]
    slope = per_token_slope(tokens, values)
    if slope is None:
        return Scaling("linear", f"linear: {lead}; no {what}", model, "not a polynomial")
    growth = per_token[-1] / per_token[0] if per_token[0] else math.inf
    span = f"{resolution_text(*part.iloc[first][['resolution_h', 'resolution_w']])} to " \
           f"{resolution_text(*part.iloc[-1][['resolution_h', 'resolution_w']])}"
    verdict = "quadratic" if slope > QUADRATIC_SLOPE else "linear"
    # each module's own peak is its own polynomial: fitted exactly
    where = carriers_text(part, "mixing" if basis == "gmacs_mixing" else "total", exact_series=peak,
                          column=MODULE_COLUMNS[metric]) if verdict == "quadratic" else ""
    reason = (f"{verdict}: {lead}; {what} per token change x{growth:.2f} from {span} "
              f"(as N^{slope:.2f}; N² would be N^1)" + (f"; carried by {where}" if where else ""))
    return Scaling(verdict, reason, model, "not a polynomial", where)


def _upper_half_start(tokens: list[int]) -> int:
    """Index of the first size in the upper half of the log-token range, leaving at least 3 sizes."""
    log_n = np.log(np.asarray(tokens, dtype=float))
    middle = (log_n[0] + log_n[-1]) / 2
    return min(int(np.argmax(log_n >= middle)), max(len(tokens) - 3, 0))


def _on_exact_mixing(part: pd.DataFrame, metric: str, total: CostModel, mixing: CostModel, lead: str,
                     stride: float) -> Scaling:
    """The verdict of a non-polynomial count whose mixing MACs fit exactly: their c2 is the N^2 term,
    and c0 + c1*N is the least-squares fit of the rest (the total minus that term)."""
    c2 = mixing.c2 if mixing.has_quadratic_term() else 0.0
    n = np.asarray(total.tokens, dtype=float)
    values = np.asarray(total.values)
    c1, c0 = np.polyfit(n, values - c2 * n * n, 1)
    fitted = c0 + c1 * n + c2 * n * n
    model = CostModel(float(c0), float(c1), c2, total.tokens, total.values, exact=False,
                      max_residual=float(np.max(np.abs(values - fitted) / values)), precision=total.precision)
    if not c2:
        return Scaling("linear", f"linear: {lead}; their mixing MACs are, exactly, with no N² term", model,
                       "not a polynomial; mixing exact")
    where = carriers_text(part, "mixing", exact_series=True)
    sentence = _quadratic_sentence(model, NOUNS[metric], where, part, stride).removeprefix("quadratic: ")
    return Scaling("quadratic", f"quadratic: {lead}; their mixing MACs are, exactly: {sentence}", model,
                   "not a polynomial; mixing exact", where)


def _quadratic_sentence(model: CostModel, what: str, where: str, part: pd.DataFrame, stride: float) -> str:
    largest = resolution_text(*part.iloc[-1][["resolution_h", "resolution_w"]])
    share = model.quadratic_share()[-1]
    located = f"an N² term in {where}" if where else "an N² term"
    return f"quadratic: {located}; {share:.1%} of {what} at {largest}; {dominance_text(model, stride)}"


# ----------------------------------------------------------------------------- measured

def measured_scaling(part: pd.DataFrame, metric: str, stride: float) -> Scaling:
    """NNLS cost model and bootstrap verdict of a measured metric."""
    what = NOUNS[metric]
    model = fit_measured(part["tokens"], part[metric])
    sizes = part["tokens"].nunique()
    if model is None:
        return Scaling("inconclusive", f"inconclusive: {sizes} size(s) measured; fitting c0 + c1·N + c2·N² "
                                       f"to noisy values needs {MIN_SIZES}", None, "none")
    largest = resolution_text(*part.iloc[-1][["resolution_h", "resolution_w"]])
    low, high = model.share_low, model.share_high
    interval = f"{_percents(low, high)} of {what} at {largest} (bootstrap interval, nominal {CONFIDENCE:.0%})"
    if low >= QUADRATIC_SHARE:
        reason = (f"quadratic: an N² term carries {interval}; the data rule out a linear cost; "
                  f"{dominance_text(model, stride)}")
        return Scaling("quadratic", reason, model, "nnls + bootstrap")
    if high < QUADRATIC_SHARE:
        reason = (f"linear: the data rule out an N² term above {_percents(high)} of {what} at {largest} "
                  f"(bootstrap upper bound, nominal {CONFIDENCE:.0%})")
        return Scaling("linear", reason, model, "nnls + bootstrap")
    reason = (f"inconclusive: an N² term carries {interval}; the data can neither confirm nor rule out one of "
              f"{QUADRATIC_SHARE:.0%} or more; measure larger sizes or more repeats")
    return Scaling("inconclusive", reason, model, "nnls + bootstrap")


def _percents(*shares: float) -> str:
    """Shares as percentages with as many decimals as it takes to tell them apart and from zero
    (0.3%, not 0%; 97.8%-98.4%, not 98%-98%); below 0.005% a share is 0%, and an interval of one
    value (exact data: every resample alike) is that value."""
    shares = tuple(dict.fromkeys(0.0 if s < 5e-5 else round(s, 9) for s in shares))  # float noise is no spread
    for decimals in range(3):
        texts = [f"{100 * s:.{decimals}f}%" for s in shares]
        if len(set(texts)) == len(texts) and all(t.strip("0.%") or s == 0 for t, s in zip(texts, shares)):
            return "-".join(texts)
    return "-".join(f"{100 * s:.2g}%" for s in shares)


# ----------------------------------------------------------------------------- dominance

def dominance(model: CostModel | None, stride: float) -> tuple[float | None, str]:
    """(side in pixels of the square input where c2*N^2 passes c0 + c1*N, or None for never;
    where it is: "never", "within", "extrapolated" beyond the largest size, or "below" the smallest)."""
    tokens = model.dominance_tokens() if model is not None else None
    if tokens is None or (model.precision and not model.has_quadratic_term()):
        return None, "never"
    side = stride * math.sqrt(tokens)
    if tokens > max(model.tokens):
        return side, "extrapolated"
    return side, "below" if tokens < min(model.tokens) else "within"


def dominance_text(model: CostModel, stride: float) -> str:
    side, where = dominance(model, stride)
    if where == "never":
        return "no N² term"
    if where == "below":
        return "it is more than the rest at every size measured"
    suffix = " (extrapolated beyond the sizes measured)" if where == "extrapolated" else ""
    return f"it passes the rest above {side:,.0f} px{suffix}"


# ----------------------------------------------------------------------------- the table

TABLE_COLUMNS = (
    "series", "label", "kind", "metric", "batch", "dtype", "device", "mode", "points", "tokens_min",
    "tokens_max", "resolution_min", "resolution_max", "verdict", "reason", "method", "c0", "c1", "c2",
    "max_residual", "quadratic_share", "quadratic_share_max", "share_low", "share_high",
    "dominance_resolution", "dominance", "quadratic_modules", "k_upper", "k_upper_low", "k_upper_high",
    "achieved_gmacs_per_s", "achieved_change", "latency_step",
)
MACHINE_COLUMNS = TABLE_COLUMNS[-3:]
"""The columns of ``scaling.csv``: coefficients in the metric's unit per token and per token^2,
``quadratic_share`` a JSON object {resolution: share}, ``dominance_resolution`` in pixels (side of
a square input; empty for never) with ``dominance`` saying where it lies (never, within, below,
extrapolated). For counts that are not a polynomial (``method`` "not a polynomial") the
coefficients are a least-squares fit shown with its residual; the verdict rests on the mixing MACs
per token, and a linear verdict has no N^2 share or dominance."""


def token_stride(part: pd.DataFrame) -> float:
    """Pixels per token side at the first attention stage (4 for pyramids, 16 for ViT)."""
    return float(np.median(np.sqrt(part["resolution_h"] * part["resolution_w"] / part["tokens"])))


def series_scaling(part: pd.DataFrame, metric: str, counted: dict[str, Scaling] | None = None) -> Scaling:
    """The verdict for one series' rows with a value of ``metric``, sorted by tokens; ``counted``: the
    series' verdicts on its exact counts so far (metric -> Scaling), which a measured verdict is read
    against."""
    stride = token_stride(part)
    counted = counted or {}
    if metric in COUNT_METRICS:
        return count_scaling(part, metric, stride)
    if metric == "latency_ms_median":
        return latency_scaling(part, counted)
    result = measured_scaling(part, metric, stride)
    gmacs = counted.get("gmacs")
    note = _against_counts(result.verdict, gmacs.verdict if gmacs else None, metric)
    return Scaling(result.verdict, result.reason + note, result.model, result.method) if note else result


def _against_counts(measured: str, counted: str | None, metric: str) -> str:
    """What a measured memory verdict means beside the exact one on GMACs, when the two differ."""
    if counted == "quadratic" and measured == "linear" and metric == "peak_mem_mb":
        return "; GMACs are quadratic but memory is not: no N²-sized tensor is kept (a fused attention kernel)"
    return ""


def _rates(part: pd.DataFrame, column: str, unit: float) -> pd.Series | None:
    """Work done per second at each size (``column`` / latency), or None without that count."""
    if column not in part.columns or part[column].isna().any():
        return None
    return part[column].astype(float) * unit / (part["latency_ms_median"].astype(float) / 1e3)


def _work_share(counted: dict[str, Scaling], tokens: float) -> tuple[float, str] | None:
    """The largest share of its count that an N² term carries at ``tokens``, over the exact work
    counts (MACs, bytes written), and which count it is (its column); None without an exact count."""
    shares = []
    for metric in ("gmacs", "bytes_written"):
        result = counted.get(metric)
        if result is None or result.model is None or result.verdict == "inconclusive":
            continue
        model = result.model
        total = model.predict(tokens)
        square = model.c2 * tokens * tokens if result.verdict == "quadratic" else 0.0
        shares.append((square / total if total > 0 else 0.0, metric))
    return max(shares) if shares else None


def _passes(part: pd.DataFrame) -> list[list]:
    """Each cell's per-pass latencies (``latency_passes_ms``, a JSON list); [] where not known."""
    out = []
    for text in part.get("latency_passes_ms", pd.Series([None] * len(part), index=part.index)):
        try:
            values = json.loads(text) if isinstance(text, str) else []
        except ValueError:
            values = []
        out.append(values if isinstance(values, list) else [])
    return out


def _latency_against_counts(part: pd.DataFrame, reading, suspects, counted: dict[str, Scaling], resolutions: list[str],
                    change: float) -> tuple[str, str]:
    """The time's own verdict read against the exact counts' N² term at the largest size timed."""
    verdict, why = reading.verdict, reading.why
    work = _work_share(counted, float(part["tokens"].max())) if reading.growth_share is not None else None
    if work is None:
        return verdict, why
    share, column = work
    what, largest = NOUNS[column], resolutions[-1]
    counts = f"the N² term of the counts ({share:.0%} of the {what} at {largest})"
    if share < GROWTH_SHARE:
        if verdict == "linear":
            return verdict, why
        return "linear", (f"linear work on a machine that slows down: the N² term of the exact counts carries "
                          f"{share:.1%} of the {what} at {largest}, so the time's own growth is the machine's "
                          f"(achieved GMAC/s x{change:.2f}); time: {why}")
    if verdict == "quadratic":
        return verdict, f"{why}; it confirms {counts}"
    follows = follows_work(part["tokens"], part["latency_ms_median"], part[column], suspects)
    if follows is not None and follows.follows:
        return "quadratic", (f"time per token grows as the counted work per token does (x{follows.time_change:.2f} "
                             f"against x{follows.work_change:.2f} from {resolutions[0]} to {largest}): the exact "
                             f"{what} at one rate plus a fixed overhead fit it clearly better than a flat time per "
                             f"token, and no step that levels off fits better; it confirms {counts}; time alone: {why}")
    if verdict == "linear":
        return verdict, f"{why}; the time does not show {counts} at these sizes"
    return verdict, why


def latency_scaling(part: pd.DataFrame, counted: dict[str, Scaling]) -> Scaling:
    """Latency read against the work (:mod:`~pacabench.analysis.latency`): does time per token keep
    growing, and is that the work (an N² term of the exact counts) or the machine (the achieved
    GMAC/s falls while the work per token does not grow)?

    Time that keeps growing while the counted work has no N² term worth 10% of it at the largest size
    timed is linear work on a machine that slows down: ``linear``, with the factor. Time that keeps
    growing with an N² term in the work confirms it: ``quadratic``; so does time that grows as the
    counted work per token does (:func:`~pacabench.analysis.latency.follows_work`: the counts fix the
    shape, so a modest N² term is seen through noise that hides it from a free fit). Time that does
    neither is ``linear`` (it does not show the counts' N² term at these sizes). A cell whose timing
    passes agree is never left out as a load burst (:func:`~pacabench.analysis.latency.may_be_bursts`)."""
    suspects = may_be_bursts(_passes(part))
    reading = read_latency(part["tokens"], part["latency_ms_median"], suspects)
    resolutions = [resolution_text(h, w) for h, w in zip(part["resolution_h"], part["resolution_w"])]
    gmacs_s, bytes_s = _rates(part, "gmacs", 1.0), _rates(part, "bytes_written", 1e-9)
    change = float(gmacs_s.iloc[-1] / gmacs_s.iloc[0]) if gmacs_s is not None else np.nan
    machine = {"achieved_gmacs_per_s": json.dumps(dict(zip(resolutions, gmacs_s.round(3).tolist())))
               if gmacs_s is not None else "", "achieved_change": change,
               "latency_step": (f"x{reading.step.factor:.2f} between {reading.step.before:,} and "
                                f"{reading.step.at:,} tokens") if reading.step else ""}
    rates = ""
    if gmacs_s is not None and len(part) > 1:
        rates = (f"; the machine: {gmacs_s.iloc[0]:.1f} GMAC/s at {resolutions[0]}, {gmacs_s.iloc[-1]:.1f} at "
                 f"{resolutions[-1]} (x{change:.2f})")
        if bytes_s is not None:
            rates += f", {bytes_s.iloc[0]:.2f} GB/s written then {bytes_s.iloc[-1]:.2f}"
    verdict, why = _latency_against_counts(part, reading, suspects, counted, resolutions, change)
    return Scaling(verdict, f"{verdict}: {why}{rates}", None, "time per token, read against the counts",
                   machine=machine)


def _row(series: str, first: pd.Series, metric: str, part: pd.DataFrame, result: Scaling) -> dict:
    model = result.model
    shares = model.quadratic_share() if model is not None else []
    side, where = dominance(model, token_stride(part)) if len(part) else (None, "never")
    if result.verdict == "linear":  # an inexact fit's c2 (counts off any polynomial) is no N^2 term
        shares, (side, where) = [0.0] * len(shares), (None, "never")
    power = fit_upper_half(part["tokens"], part[metric]) if len(part) else None
    resolutions = [resolution_text(h, w) for h, w in zip(part["resolution_h"], part["resolution_w"])]
    return {
        "series": series, "label": first["label"], "kind": first["kind"], "metric": metric,
        "batch": first["batch"], "dtype": first["dtype"], "device": first["device"], "mode": first["mode"],
        "points": int(part["tokens"].nunique()),
        "tokens_min": part["tokens"].min() if len(part) else None,
        "tokens_max": part["tokens"].max() if len(part) else None,
        "resolution_min": resolutions[0] if resolutions else None,
        "resolution_max": resolutions[-1] if resolutions else None,
        "verdict": result.verdict, "reason": result.reason, "method": result.method,
        "c0": _unit(model, "c0", metric), "c1": _unit(model, "c1", metric), "c2": _unit(model, "c2", metric),
        "max_residual": model.max_residual if model is not None else np.nan,
        "quadratic_share": json.dumps(dict(zip(_unique(resolutions), shares))) if shares else "",
        "quadratic_share_max": max(shares) if shares else np.nan,
        "share_low": model.share_low if model is not None and model.share_low is not None else np.nan,
        "share_high": model.share_high if model is not None and model.share_high is not None else np.nan,
        "dominance_resolution": side if side is not None else np.nan, "dominance": where,
        "quadratic_modules": result.quadratic_modules,
        "k_upper": power.k if power else np.nan, "k_upper_low": power.k_low if power else np.nan,
        "k_upper_high": power.k_high if power else np.nan,
        **dict.fromkeys(MACHINE_COLUMNS, ""), **(result.machine or {}),
    }


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unit(model: CostModel | None, name: str, metric: str) -> float:
    """A coefficient in the metric's own unit (GMACs for MAC counts, fitted on MACs; MB for the
    predicted peak, fitted on bytes)."""
    if model is None:
        return np.nan
    value = getattr(model, name)
    return value / EXACT_UNITS[metric][0] if metric in COUNT_METRICS else value


def scaling_table(df: pd.DataFrame, metrics=SCALING_METRICS) -> pd.DataFrame:
    """One row per (series, metric) of a labelled results frame (:data:`TABLE_COLUMNS`). Metrics
    without a single value in the run (not measured) get no rows."""
    out = []
    counted: dict[str, dict[str, Scaling]] = {}  # series -> count metric -> its verdict, for measured metrics
    firsts = df.drop_duplicates("series").set_index("series", drop=False)
    for metric in metrics:
        rows = metric_rows(df, metric) if metric in df.columns else df.iloc[0:0]
        if rows.empty:
            continue
        parts = dict(tuple(rows.groupby("series", sort=False)))
        for series, first in firsts.iterrows():
            part = parts.get(series, rows.iloc[0:0]).sort_values("tokens", kind="stable")
            part = part.drop_duplicates(["resolution_h", "resolution_w"])
            if part.empty:
                result = Scaling("inconclusive", f"inconclusive: no {NOUNS[metric]} values", None, "none")
            else:
                result = series_scaling(part, metric, counted.get(series))
            if result.model is not None and result.method.startswith(("exact", "not a polynomial")):
                counted.setdefault(series, {})[metric] = result
            out.append(_row(series, first, metric, part, result))
    return pd.DataFrame(out, columns=list(TABLE_COLUMNS))
