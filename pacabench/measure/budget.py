"""Time budgets: predict how long timing a cell takes before building it for real.

Every series (one target at growing sizes, same batch, dtype, mode, device, layout) is measured,
because a verdict on latency needs sizes: **the smallest size of a series is always timed** (a cell
that then overruns ``timeout_s`` is a ``timeout`` row, which says as much). Each later size is
predicted from the series' own measurements and timed while the prediction fits the budget:

    seconds of one step at ``gmacs`` = ``seconds`` * (``gmacs`` / ``at_gmacs``) ** ``exponent``

from the last timed cell (``seconds`` at ``at_gmacs``), with the exponent of the last two timed cells
(how step time grew with GMACs there), never below 1 (small cells carry fixed overheads that large
ones amortise) and never above :data:`MAX_EXPONENT`. A machine that slows down as the size grows
(activations leaving the caches, or load) is thus extrapolated with its slowdown, and a series
whose cell timed out is not timed at larger sizes. No prior rate of the device is assumed: a
guessed efficiency was 25x off on a loaded CPU and kept whole series from being measured.

The runner hands the prediction to the cell as :attr:`Cell.time_hint <pacabench.measure.cell.Cell>`
(see :func:`series_hint`). A hint is only used on the device it was measured on (``device_name``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_EXPONENT = 1.5
"""The steepest growth of step time with GMACs that is extrapolated: noise between two small cells
must not predict the next one ten times slower."""


@dataclass(frozen=True)
class TimeHint:
    """Step time of a measured cell of the series, and how to scale it to another size."""

    seconds: float       # one step of the last timed cell
    at_gmacs: float      # its GMACs
    exponent: float      # step time grows as GMACs ** exponent
    source: str          # quoted in the skip message, e.g. "extrapolated from the 896 px cell"
    device_name: str     # the device it was measured on; elsewhere it is ignored
    timed_out: bool = False  # a cell of the series ran out of time: larger ones are not timed

    def step_seconds(self, gmacs: float) -> float:
        return self.seconds * (gmacs / self.at_gmacs) ** self.exponent


@dataclass(frozen=True)
class Observed:
    """One finished cell of a series, as the predictor needs it."""

    gmacs: float
    seconds: float | None   # one step; None when it timed out
    size: str
    device_name: str


def _number(value) -> float | None:
    """A float from a row value (a float in memory, a string when read back from results.csv)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN: not measured


def observed(row: dict) -> Observed | None:
    """What a finished row teaches about its series: its step time if it was timed, that it timed
    out, or nothing (skipped, failed, counts only)."""
    gmacs, latency_ms = _number(row.get("gmacs")), _number(row.get("latency_ms_median"))
    status = row.get("status")
    if not gmacs or (status != "timeout" and (status != "ok" or latency_ms is None)):
        return None
    h, w = int(float(row["resolution_h"])), int(float(row["resolution_w"]))
    size = f"{h} px" if h == w else f"{h}x{w}"
    seconds = latency_ms / 1e3 if status == "ok" else None
    return Observed(gmacs, seconds, size, str(row.get("device_name")))


def series_hint(cells: Sequence[Observed]) -> TimeHint | None:
    """The hint for the next, larger cell of a series from its cells so far, smallest first; None
    for the first cell (always timed)."""
    if not cells:
        return None
    last = cells[-1]
    if last.seconds is None:
        return TimeHint(math.inf, last.gmacs, 1.0, f"the {last.size} cell of this series ran out of time",
                        last.device_name, timed_out=True)
    exponent = 1.0
    timed = [c for c in cells if c.seconds is not None]
    if len(timed) >= 2 and timed[-2].gmacs < last.gmacs:
        previous = timed[-2]
        exponent = math.log(last.seconds / previous.seconds) / math.log(last.gmacs / previous.gmacs)
        exponent = min(max(exponent, 1.0), MAX_EXPONENT)
    source = f"extrapolated from the {last.size} cell" + (f" as GMACs^{exponent:.2f}" if exponent > 1 else "")
    return TimeHint(last.seconds, last.gmacs, exponent, source, last.device_name)


def predict_seconds(step_s: float, *, warmup: int, min_repeats: int, min_time_s: float) -> float:
    """Time to take the memory step (which warms up too), the remaining warm-up steps, then time
    ``min_repeats`` steps for at least ``min_time_s``."""
    return max(warmup, 1) * step_s + max(min_repeats * step_s, min_time_s)
