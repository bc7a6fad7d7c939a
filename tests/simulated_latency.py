"""Simulated latency series with known truth, to measure how often each latency verdict is right.

A series is the time of one forward pass at the token counts of the default sweep's sizes:
``t(N) = overhead + N * (1 + s * N / N_max)`` with ``s`` set so that the N^2 term carries ``share``
of the time at the largest size, times a machine factor (a cache step: x``factor`` from one size on),
times multiplicative log-normal noise of ``noise``, with a load burst (x1.5-3 on one random cell) in
a ``burst`` fraction of the series. ``python tests/simulated_latency.py`` prints the hit-rate tables of
the README.

The second table reads time against exact counts, as ``pacabench`` does (:func:`against_counts`): a
backbone at the default sweep's sizes whose counts carry an N^2 term of ``share`` at the largest size,
timed either as those counts (plus overhead, noise and bursts) or as linear work with a cache step.
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pacabench.analysis.latency import read_latency
from pacabench.analysis.scaling import scaling_table

OPERATOR_TOKENS = tuple((side // 4) ** 2 for side in (224, 320, 448, 640, 896, 1280, 1792, 2048))
BACKBONE_TOKENS = tuple((side // 4) ** 2 for side in (224, 256, 288, 320, 352, 448, 544, 672, 896))


@dataclass(frozen=True)
class Truth:
    name: str
    verdict: str        # what a right reading says
    share: float        # N^2 term's share of the time at the largest size
    step: bool          # a cache step of x1.5-2.5 at a random interior size


TRUTHS = (
    Truth("linear", "linear", 0.0, False),
    Truth("linear with a cache step", "linear", 0.0, True),
    Truth("hidden N² term, 10%", "quadratic", 0.10, False),
    Truth("hidden N² term, 30%", "quadratic", 0.30, False),
    Truth("N² dominates (90%)", "quadratic", 0.90, False),
)
NOISES = (0.05, 0.10, 0.20)


def simulate(truth: Truth, noise: float, rng: np.random.Generator, tokens=OPERATOR_TOKENS,
             burst: float = 0.3) -> np.ndarray:
    n = np.asarray(tokens, dtype=float)
    slope = truth.share / (1 - truth.share) if truth.share < 1 else 1e6
    t = n * (1 + slope * n / n.max())
    t += rng.uniform(0.0, 0.5) * t[0]                     # fixed per-call overhead
    if truth.step:
        at = rng.integers(2, n.size - 1)
        t[at:] *= rng.uniform(1.5, 2.5)
    t *= np.exp(rng.normal(0.0, noise, n.size))
    if rng.uniform() < burst:
        t[rng.integers(0, n.size)] *= rng.uniform(1.5, 3.0)
    return t


def _fractions(verdicts: list[str]) -> Counter:
    return Counter({verdict: count / len(verdicts) for verdict, count in Counter(verdicts).items()})


def hit_rates(truth: Truth, noise: float, trials: int = 400, seed: int = 0, tokens=OPERATOR_TOKENS) -> Counter:
    """Verdict -> fraction of ``trials`` simulated series."""
    rng = np.random.default_rng(seed)
    return _fractions([read_latency(tokens, simulate(truth, noise, rng, tokens)).verdict for _ in range(trials)])


def right_and_wrong(truth, rates: Counter) -> tuple[float, float]:
    """The fractions of series read right and read wrong (neither right nor inconclusive)."""
    return rates[truth.verdict], 1 - rates[truth.verdict] - rates["inconclusive"]


def _markdown(truths, rates_of, trials: int) -> str:
    lines = ["| truth | noise | right | wrong | inconclusive |", "|---|---:|---:|---:|---:|"]
    for truth in truths:
        for noise in NOISES:
            rates = rates_of(truth, noise, trials)
            right, wrong = right_and_wrong(truth, rates)
            lines.append(f"| {truth.name} | {noise:.0%} | {right:.0%} | {wrong:.0%} | {rates['inconclusive']:.0%} |")
    return "\n".join(lines)


def table(trials: int = 400) -> str:
    return _markdown(TRUTHS, hit_rates, trials)


@dataclass(frozen=True)
class CountedTruth:
    name: str
    verdict: str        # what a right reading says
    share: float        # the counts' N^2 term's share at the largest size
    follows: bool       # the time is the counted work; else linear work ...
    step: bool = False  # ... with a cache step of x1.5-2.5 at a random interior size


COUNTED_TRUTHS = (
    CountedTruth("time follows counts with an N² term of 30%", "quadratic", 0.30, True),
    CountedTruth("time follows counts with an N² term of 50%", "quadratic", 0.50, True),
    CountedTruth("linear time, counts with an N² term of 30%", "linear", 0.30, False),
    CountedTruth("linear time with a cache step, counts with an N² term of 30%", "linear", 0.30, False, True),
)


def simulate_counted(truth: CountedTruth, noise: float, rng: np.random.Generator,
                     tokens=BACKBONE_TOKENS, burst: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """(exact GMACs, latency) of one simulated series."""
    n = np.asarray(tokens, dtype=np.int64)
    c2 = round(100_000 * truth.share / (1 - truth.share) / n.max())  # integer MACs: exact counts
    gmacs = (100_000 * n + c2 * n * n) / 1e9
    t = gmacs * 1e5 if truth.follows else n / 100.0
    t += rng.uniform(0.0, 0.5) * t[0]
    if truth.step:
        t[rng.integers(2, n.size - 1):] *= rng.uniform(1.5, 2.5)
    t *= np.exp(rng.normal(0.0, noise, n.size))
    if rng.uniform() < burst:
        t[rng.integers(0, n.size)] *= rng.uniform(1.5, 3.0)
    return gmacs, t


def against_counts(tokens, gmacs, latency) -> str:
    """The latency verdict ``pacabench`` gives a series with these exact GMACs and this latency."""
    side = 4 * np.sqrt(np.asarray(tokens, dtype=float))
    rows = pd.DataFrame({"label": "x", "series": "x", "kind": "model", "batch": 1, "dtype": "float32",
                         "device": "cpu", "mode": "inference", "status": "ok", "tokens": np.asarray(tokens),
                         "resolution_h": side, "resolution_w": side, "latency_ms_median": latency,
                         "gmacs": gmacs})
    table = scaling_table(rows, metrics=("gmacs", "latency_ms_median")).set_index("metric")
    return table.loc["latency_ms_median", "verdict"]


def counted_hit_rates(truth: CountedTruth, noise: float, trials: int = 400, seed: int = 0) -> Counter:
    rng = np.random.default_rng(seed)
    return _fractions([against_counts(BACKBONE_TOKENS, *simulate_counted(truth, noise, rng)) for _ in range(trials)])


def counted_table(trials: int = 400) -> str:
    return _markdown(COUNTED_TRUTHS, counted_hit_rates, trials)


if __name__ == "__main__":
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    print(table(trials))
    print()
    print(counted_table(trials))
