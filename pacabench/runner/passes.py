"""Timing passes: a series timed two or more times, spread over the sweep, with the median across.

One burst of load on a shared machine slows whatever runs during it. With ``passes: P`` in a suite,
the sweep measures every cell once (pass 1), then times every cell that was timed again, P - 1 more
times, each pass after the whole previous one: minutes apart, so a burst bends one pass of a size,
not the size. Each pass's timing is appended to ``passes.csv`` (synced, like results.csv) the moment
it exists; the row of a cell in results.csv then carries the median across its passes
(:func:`merged`), and ``latency_passes_ms`` lists every pass's median. A resumed sweep keeps the
passes already in passes.csv and times only the missing ones.
"""
from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from pacabench.measure.mfu import mfu
from pacabench.measure.timing import throughput

PASSES_NAME = "passes.csv"
PASS_COLUMNS = ("cell_key", "pass", "latency_ms_median", "latency_ms_p10", "latency_ms_p90", "latency_samples",
                "cpu_threads", "load_avg_1m", "cpu_steal_pct", "matmul_gflops_before", "matmul_gflops_after")
_FLOATS = PASS_COLUMNS[2:]


def pass_row(row: Mapping, number: int) -> dict | None:
    """The passes.csv row of a timed result row; None if it was not timed."""
    if row.get("latency_ms_median") is None or row.get("status") != "ok":
        return None
    return {"cell_key": row["cell_key"], "pass": number, **{c: row.get(c) for c in _FLOATS}}


def read_passes(path: Path) -> dict[str, dict[int, dict]]:
    """cell_key -> pass number -> its row, from passes.csv; rows that do not parse are left out (that
    pass is timed again), and a later row of the same pass replaces an earlier one."""
    passes: dict[str, dict[int, dict]] = defaultdict(dict)
    if not path.exists():
        return passes
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            try:
                parsed = {"cell_key": row["cell_key"], "pass": int(row["pass"]),
                          **{c: float(row[c]) if row.get(c) else None for c in _FLOATS}}
            except (KeyError, TypeError, ValueError):
                continue
            if parsed["cell_key"] and parsed["latency_ms_median"] and parsed["pass"] >= 1:
                passes[parsed["cell_key"]][parsed["pass"]] = parsed
    return passes


def _extreme(values: Iterable[float | None], pick) -> float | None:
    present = [v for v in values if v is not None]
    return pick(present) if present else None


def merged(row: dict, passes: Mapping[int, dict]) -> dict:
    """``row`` with its latency the median across ``passes`` (p10 the lowest, p90 the highest of
    theirs), throughput and MFU recomputed, and the load the worst any pass saw."""
    if not passes:
        return row
    runs = [passes[number] for number in sorted(passes)]
    median = statistics.median(r["latency_ms_median"] for r in runs)
    img_s, tok_s = throughput(int(float(row["batch"])), _int(row.get("tokens")), median)
    return {**row, "latency_ms_median": median,
            "latency_ms_p10": _extreme((r["latency_ms_p10"] for r in runs), min),
            "latency_ms_p90": _extreme((r["latency_ms_p90"] for r in runs), max),
            "latency_samples": int(sum(r["latency_samples"] or 0 for r in runs)),
            "latency_passes_ms": json.dumps([r["latency_ms_median"] for r in runs]),
            "throughput_img_s": img_s, "throughput_tok_s": tok_s,
            "mfu": mfu(_float(row.get("gmacs")), row["mode"], median, row.get("device_name"), row["dtype"]),
            "load_avg_1m": _extreme((r["load_avg_1m"] for r in runs), max),
            "cpu_steal_pct": _extreme((r["cpu_steal_pct"] for r in runs), max),
            "matmul_gflops_before": _extreme((r["matmul_gflops_before"] for r in runs), min),
            "matmul_gflops_after": _extreme((r["matmul_gflops_after"] for r in runs), min)}


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _int(value) -> int | None:
    number = _float(value)
    return None if number is None else int(number)
