"""Compare a run against a baseline: exact counts, timed metrics within a tolerance, same device only.

Cells are joined on the columns that define a measurement (kind, name, params_json, resolution,
batch, dtype, mode, channels_last, compile), not on ``cell_key``: the key also encodes the device and
the timing settings, and a CPU baseline of counts must still check the counts of a run made
elsewhere. (When one side holds the same cell on several devices, ``device`` joins the key.)

- The counts (``params``, ``gmacs`` and its split ``gmacs_mixing`` / ``gmacs_dense`` /
  ``gmacs_other``, ``gmacs_backward``, ``bytes_written`` and its split, ``peak_mem_predicted_mb``)
  must be equal (to float round-off, 1e-9 relative): any change is a regression until the baseline
  is deliberately updated. A count the baseline does not have is not compared, nor bytes and the
  predicted peak of a run on another device (they follow its attention kernel).
- ``latency_ms_median`` and ``peak_mem_mb`` are compared only when both rows are ``ok`` and ran on
  the same ``device`` and ``device_name`` (CPU latency also with the same ``cpu_threads``, where both
  rows say); more than ``tolerance`` above the baseline is a
  regression, more than ``tolerance`` below is reported as an improvement. When the baseline has a
  value that cannot be compared, the row is listed as not compared, with the reason (a baseline
  without timings, such as a committed baseline of counts, is silently not compared).
- A cell that was ok in the baseline and ends in ``error`` is a regression.
- Cells only in one of the two are listed, and are not regressions.
- Both inputs are checked first (:func:`pacabench.analysis.results.checked`): a file with a malformed
  row or with the same cell twice is unusable, never joined many-to-many. A column one side lacks
  counts as empty: a run without timings against a baseline with timings lists every timing as
  not compared, never as within tolerance.

Exit codes: 0 within bounds, 1 regression, 2 unusable input (missing file, wrong columns, malformed or
repeated rows, no common cells).

``update_baseline`` writes a run's counts as the new baseline: the run's rows with the timed
and machine-specific columns emptied, so a committed baseline changes only when a count changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pacabench.analysis.results import MEASUREMENT_COLUMNS, ResultsError, checked, load_results, results_csv
from pacabench.runner.atomic import replace_file

KEY_COLUMNS = MEASUREMENT_COLUMNS
EXACT_METRICS = ("params", "gmacs", "gmacs_mixing", "gmacs_dense", "gmacs_other", "gmacs_backward",
                 "bytes_written", "bytes_written_mixing", "bytes_written_dense", "bytes_written_other",
                 "peak_mem_predicted_mb")
"""Counts, compared exactly: the baseline holds the run to each count it has (a count the run lost
is a regression; one the baseline lacks, e.g. an older baseline without the op-class split, is not
compared). Bytes written and the meta-device peak are counts too: deterministic functions of the
graph and of the attention kernel the cell's device picks, so they are compared only between rows
of the same device (:data:`KERNEL_METRICS`)."""
KERNEL_METRICS = frozenset({"bytes_written", "bytes_written_mixing", "bytes_written_dense", "bytes_written_other",
                            "peak_mem_predicted_mb"})
"""Exact counts that follow the device's attention kernel (CPU's fused kernel writes no N x N matrix)."""
TOLERANT_METRICS = ("latency_ms_median", "peak_mem_mb")
# Columns a baseline keeps empty: they depend on the machine or vary run to run.
MACHINE_COLUMNS = ("device_name", "message", "peak_mem_mb", "peak_mem_reserved_mb", "peak_mem_net_mb",
                   "latency_ms_median", "latency_ms_p10", "latency_ms_p90", "latency_samples",
                   "throughput_img_s", "throughput_tok_s", "mfu", "latency_passes_ms", "cpu_threads",
                   "load_avg_1m", "cpu_steal_pct", "matmul_gflops_before", "matmul_gflops_after", "elapsed_s")
DIFF_COLUMNS = ("cell", "metric", "baseline", "run", "change", "status", "note")
REL_EPS = 1e-9


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_runs` found. Kept beside the table, not in ``DataFrame.attrs``: pandas
    deep-copies ``attrs`` on every operation, which made each filter of a large comparison cost as
    much as its list of cells."""

    table: pd.DataFrame  # one row per difference (DIFF_COLUMNS)
    code: int            # exit code: 0 within bounds, 1 regression, 2 unusable input
    cells: list[str] = field(default_factory=list)  # every cell found in both, as ``cell`` writes it
    timings_compared: int = 0  # timed values held to the tolerance
    error: str | None = None   # on code 2: the one-line reason


def compare_runs(baseline, run, tolerance: float = 0.10) -> Comparison:
    """Compare two folders or CSV paths, or labelled DataFrames.

    The table has one row per compared (cell, metric) that is not plainly equal, per cell missing
    on one side, and per timed metric not compared; ``status`` is one of regression, improvement,
    changed-within-tolerance, not-compared, only-in-baseline, only-in-run. On exit code 2 the table
    is empty and ``error`` holds the one-line reason.
    """
    try:
        base, new = _frame(baseline), _frame(run)
    except ResultsError as exc:
        return _unusable(str(exc))
    key = list(KEY_COLUMNS)
    if base.duplicated(key).any() or new.duplicated(key).any():
        key.append("device")
    merged = base.merge(new, on=key, how="outer", suffixes=("_base", "_run"), indicator=True)
    if not (merged["_merge"] == "both").any():
        return _unusable(f"no common cells between {_name(baseline)} and {_name(run)}; "
                         "compare runs of the same suite")
    diffs, cells = [], []
    timings_compared = 0
    for _, row in merged.iterrows():
        cell = _cell_text(row)
        if row["_merge"] != "both":
            where = "only-in-baseline" if row["_merge"] == "left_only" else "only-in-run"
            diffs.append(_diff(cell, "", None, None, where, "cell not in both; not compared"))
            continue
        cells.append(cell)
        tolerant, compared = _tolerant_diffs(cell, row, tolerance)
        diffs += _exact_diffs(cell, row) + tolerant
        timings_compared += compared
        if row["status_base"] == "ok" and row["status_run"] == "error":
            message = row["message_run"]
            diffs.append(_diff(cell, "status", "ok", "error", "regression",
                               message[:160] if isinstance(message, str) else ""))
    # baseline / run hold each value as read (an integer count stays an integer), not upcast to float
    table = pd.DataFrame(diffs, columns=list(DIFF_COLUMNS), dtype=object).astype({"change": float})
    return Comparison(table, int((table["status"] == "regression").any()), cells, timings_compared)


def update_baseline(baseline: str | Path, run) -> Path:
    """Write the run's rows as the baseline (``BASELINE/results.csv``, or BASELINE itself if it names
    a .csv file), timed and machine-specific columns emptied. Returns the file written."""
    df = _frame(run)
    out = Path(baseline)
    out = out if out.suffix == ".csv" else out / "results.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    keep = df.drop(columns=["series", "resolution"]).copy()
    for col in MACHINE_COLUMNS:
        if col in keep.columns:
            keep[col] = np.nan
    keep = keep.sort_values(list(KEY_COLUMNS) + ["device"])
    # Lines end as in results.csv (the csv module's \r\n), so a text field holding a \r is quoted and
    # the baseline reads back whatever its labels hold.
    replace_file(out, lambda tmp: keep.to_csv(tmp, index=False, lineterminator="\r\n"))
    return out


def _frame(source) -> pd.DataFrame:
    return checked(source, "the given table") if isinstance(source, pd.DataFrame) else load_results(source)


def _name(source) -> str:
    return "the baseline frame" if isinstance(source, pd.DataFrame) else str(results_csv(source))


def _unusable(message: str) -> Comparison:
    return Comparison(pd.DataFrame(columns=list(DIFF_COLUMNS)), 2, error=message)


def _cell_text(row) -> str:
    label = row["label_run"] if isinstance(row["label_run"], str) else row["label_base"]
    params = row["params_json"] if isinstance(row["params_json"], str) and row["params_json"] != "{}" else ""
    device = row["device"] if "device" in row.index else (
        row["device_run"] if isinstance(row["device_run"], str) else row["device_base"])
    return " ".join(filter(None, (label, params, f"{int(row['resolution_h'])}x{int(row['resolution_w'])}",
                                  f"b{int(row['batch'])}", row["dtype"], row["mode"], device)))


def _diff(cell, metric, base, run, status, note="", change=None) -> dict:
    return {"cell": cell, "metric": metric, "baseline": base, "run": run, "change": change,
            "status": status, "note": note}


def _exact_diffs(cell: str, row) -> list[dict]:
    out = []
    same_device = "device" in row.index or row.get("device_base") == row.get("device_run")
    for metric in EXACT_METRICS:
        base, run = _number(row.get(f"{metric}_base")), _number(row.get(f"{metric}_run"))
        if np.isnan(base) or (metric in KERNEL_METRICS and not same_device):
            continue
        if np.isnan(base) or np.isnan(run) or abs(run - base) > REL_EPS * max(1.0, abs(base)):
            change = (run - base) / base if base and not np.isnan(run) else None
            if metric == "params":  # a count of parameters stays an integer in every output
                base, run = (v if np.isnan(v) else int(v) for v in (base, run))
            out.append(_diff(cell, metric, base, run, "regression",
                             "counts must match exactly; if the change is intended, update the baseline",
                             change))
    return out


def _tolerant_diffs(cell: str, row, tolerance: float) -> tuple[list[dict], int]:
    """(differences of the timed metrics, how many were held to the tolerance)."""
    out, compared = [], 0
    for metric in TOLERANT_METRICS:
        base, run = _number(row[f"{metric}_base"]), _number(row[f"{metric}_run"])
        if np.isnan(base) or row["status_base"] != "ok":
            continue  # nothing to hold the run to (a baseline of counts keeps no timings)
        reason = "not measured in the run" if np.isnan(run) else _not_comparable(row, metric)
        if reason is not None:
            out.append(_diff(cell, metric, base, run, "not-compared", reason))
            continue
        compared += 1
        change = (run - base) / base
        if abs(change) <= tolerance:
            if abs(change) > 0:
                out.append(_diff(cell, metric, base, run, "changed-within-tolerance",
                                 f"within {tolerance:.0%}", change))
            continue
        status = "regression" if change > 0 else "improvement"
        out.append(_diff(cell, metric, base, run, status, f"beyond {tolerance:.0%}", change))
    return out, compared


def _not_comparable(row, metric: str) -> str | None:
    if row["status_run"] != "ok":
        return f"status ok vs {row['status_run']}"
    dev_base = (row.get("device_base", row.get("device")), row.get("device_name_base"))
    dev_run = (row.get("device_run", row.get("device")), row.get("device_name_run"))
    if any(not isinstance(v, str) or not v for v in (*dev_base, *dev_run)) or dev_base != dev_run:
        return f"different device: {' / '.join(map(str, dev_base))} vs {' / '.join(map(str, dev_run))}"
    threads = (_number(row.get("cpu_threads_base")), _number(row.get("cpu_threads_run")))
    if metric == "latency_ms_median" and dev_run[0] == "cpu" and not np.isnan(threads).any() and threads[0] != threads[1]:
        return f"timed with {threads[0]:.0f} vs {threads[1]:.0f} CPU threads (other work held cores in one run)"
    return None


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
