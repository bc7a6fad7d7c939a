"""Time budgets: predict how long timing a cell takes before building it for real.

The prediction is ``seconds_per_gmac * gmacs * steps`` (``steps``: warm-up, the memory step, then the
timed repeats), with ``seconds_per_gmac`` from the best source at hand, in this order:

1. **Extrapolated**: what one step of an already measured, smaller cell of the same series (same
   target, batch, dtype, mode, device, layout, compile) took per GMAC. It carries the real efficiency
   of that target on this machine, load included. The runner hands it to the cell as
   :attr:`Cell.time_hint <pacabench.measure.cell.Cell>` (see :func:`series_hint`).
2. **Device rate**: the device's float32 matmul rate times :data:`EFFICIENCY`, for the first cell of
   a series. On CPU the runner measures the rate once per sweep and passes it the same way; on CUDA
   (never initialised in the runner's process) each cell measures it in its own process.

A hint is only used on the device it was measured on (``device_name``), so a cell that lands on
another machine (a Ray node with a different CPU or GPU) measures its own device rate instead.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Fraction of the float32 512x512 matmul rate that a whole model reaches. Calibrated on the 2-core CPU
# these suites were written on, at 224 px, batch 1, in quiet moments: PaCa-Tiny 0.37, Swin-T 0.50-0.58,
# PVTv2-b1 0.10-0.36, DeiT-S 0.34; the single attention operators 0.42-0.90. The slowest backbone sets
# it, so the first cell of a series is predicted too slow rather than too fast.
EFFICIENCY = 0.1
TRAIN_STEP_PASSES = 3  # forward + backward + optimizer step ~ three forward passes
RECENT = 2             # extrapolate from the slowest of the last RECENT measured cells of a series
_MATMUL_N = 512
_MATMUL_MIN_TIME_S = 0.2


@dataclass(frozen=True)
class TimeHint:
    """Seconds per forward GMAC of one step in the cell's mode, and where the number comes from."""

    seconds_per_gmac: float
    source: str        # quoted in the skip message, e.g. "extrapolated from the 896 px cell"
    device_name: str   # the device it was measured on; elsewhere it is ignored


_GFLOPS: dict[str, float] = {}


def device_gflops(device: torch.device) -> float:
    """Float32 matmul rate of ``device`` (GFLOP/s), measured once per process.

    The median of repeated 512x512 matmuls over at least 0.2 s: a loaded machine shows as slow rather
    than as the best of a few lucky runs.
    """
    if device.type not in _GFLOPS:
        a = torch.randn(_MATMUL_N, _MATMUL_N, device=device)
        a @ a  # warm-up: thread pool, cuBLAS handle
        samples: list[float] = []
        deadline = time.perf_counter() + _MATMUL_MIN_TIME_S
        while len(samples) < 5 or time.perf_counter() < deadline:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            a @ a
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            samples.append(time.perf_counter() - start)
        _GFLOPS[device.type] = 2 * _MATMUL_N**3 / statistics.median(samples) / 1e9
    return _GFLOPS[device.type]


def rate_hint(device: torch.device, mode: str, device_name: str) -> TimeHint:
    """The fallback predictor: the device's matmul rate, discounted by :data:`EFFICIENCY`."""
    rate = device_gflops(device)
    passes = TRAIN_STEP_PASSES if mode == "train" else 1
    source = f"device rate {rate:.0f} GFLOP/s float32 matmul x {EFFICIENCY:g} efficiency"
    if passes > 1:
        source += f" x {passes} passes per training step"
    return TimeHint(2 * passes / (rate * EFFICIENCY), source, device_name)


def _number(value) -> float | None:
    """A float from a row value (a float in memory, a string when read back from results.csv)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN: not measured


def observed_hint(row: dict) -> TimeHint | None:
    """Seconds per GMAC of one step of a finished row; None unless it is ok and was timed."""
    gmacs, latency_ms = _number(row.get("gmacs")), _number(row.get("latency_ms_median"))
    if row.get("status") != "ok" or not gmacs or latency_ms is None:
        return None
    h, w = int(float(row["resolution_h"])), int(float(row["resolution_w"]))
    size = f"{h} px" if h == w else f"{h}x{w}"
    return TimeHint(latency_ms / 1e3 / gmacs, f"extrapolated from the {size} cell",
                    str(row.get("device_name")))


def series_hint(observed: Sequence[TimeHint]) -> TimeHint | None:
    """The hint for the next, larger cell of a series measured smallest first: the slowest of the last
    :data:`RECENT` cells. Not the slowest of all: in the smallest cells fixed overheads dominate
    (10x the seconds per GMAC of larger ones), so they would skip cells far under the budget; and
    not only the last one, so that one lucky fast measurement does not let the next cell overrun."""
    return max(observed[-RECENT:], key=lambda hint: hint.seconds_per_gmac, default=None)


def predict_seconds(seconds_per_gmac: float, gmacs: float, *, warmup: int, min_repeats: int,
                    min_time_s: float) -> float:
    """Time to warm up, take the memory step, then time ``min_repeats`` steps for ``min_time_s``."""
    step_s = seconds_per_gmac * gmacs
    return (warmup + 1) * step_s + max(min_repeats * step_s, min_time_s)
