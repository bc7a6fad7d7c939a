"""The results row schema (its columns, their types, the statuses a cell ends with) and which rows
of a results table are well-formed, checked wherever results are read back.

Torch-free: ``compare`` and ``report`` learn the columns here without importing the measurement core.

A row conforms when every column named in :data:`COLUMN_TYPES` parses as its
type (or is empty), the cell's identity and status (:data:`FILLED_COLUMNS`) are filled in, and the
status is one a cell can end with. Columns the table lacks are not checked, and columns pacabench
does not know are ignored, so results written before a column was added still read. A resumed run
keeps only conforming rows and measures the others again; ``report`` and ``compare`` refuse a file
with a row that does not conform.

The checks work on a table of text, as the csv module reads it, and on one whose types pandas has
inferred, alike; they are vectorised, with JSON parsed once per distinct value.
"""
from __future__ import annotations

import json
import reprlib

import pandas as pd

STATUSES = ("ok", "oom", "timeout", "skipped_budget", "error")

ROW_COLUMNS = (
    "cell_key", "kind", "name", "params_json", "resolution_h", "resolution_w", "tokens", "batch",
    "dtype", "device", "device_name", "mode", "channels_last", "compile", "status", "message",
    "params", "params_by_part", "gmacs", "gmacs_mixing", "gmacs_dense", "gmacs_other",
    "gmacs_backward", "gmacs_fvcore", "flops_method", "flops_agree", "uncounted_ops", "module_macs",
    "bytes_written", "bytes_written_mixing", "bytes_written_dense", "bytes_written_other", "module_bytes",
    "peak_mem_mb", "peak_mem_reserved_mb", "peak_mem_net_mb", "mem_method",
    "peak_mem_predicted_mb", "module_peak_bytes",
    "latency_ms_median", "latency_ms_p10", "latency_ms_p90", "latency_samples",
    "throughput_img_s", "throughput_tok_s", "mfu", "latency_passes_ms", "cpu_threads", "load_avg_1m",
    "cpu_steal_pct", "matmul_gflops_before", "matmul_gflops_after", "elapsed_s",
)

# The type of every column that is not plain text, checked wherever results are read back
# (:func:`row_problems`). A new typed column is one line here; columns not named are text.
COLUMN_TYPES = {
    "params_json": "json_object",
    "resolution_h": "int",
    "resolution_w": "int",
    "tokens": "int",
    "batch": "int",
    "channels_last": "bool",
    "compile": "bool",
    "status": "status",
    "params": "int",
    "params_by_part": "json_object",
    "gmacs": "float",
    "gmacs_mixing": "float",
    "gmacs_dense": "float",
    "gmacs_other": "float",
    "gmacs_backward": "float",
    "gmacs_fvcore": "float",
    "flops_agree": "bool",
    "uncounted_ops": "json_list",
    "module_macs": "json_object",
    "bytes_written": "int",
    "bytes_written_mixing": "int",
    "bytes_written_dense": "int",
    "bytes_written_other": "int",
    "module_bytes": "json_object",
    "peak_mem_mb": "float",
    "peak_mem_reserved_mb": "float",
    "peak_mem_net_mb": "float",
    "peak_mem_predicted_mb": "float",
    "module_peak_bytes": "json_object",
    "latency_ms_median": "float",
    "latency_ms_p10": "float",
    "latency_ms_p90": "float",
    "latency_samples": "int",
    "throughput_img_s": "float",
    "throughput_tok_s": "float",
    "mfu": "float",
    "latency_passes_ms": "json_list",
    "cpu_threads": "int",
    "load_avg_1m": "float",
    "cpu_steal_pct": "float",
    "matmul_gflops_before": "float",
    "matmul_gflops_after": "float",
    "elapsed_s": "float",
}

# The cell's identity and its status: every row has them, whatever happened to the cell.
FILLED_COLUMNS = ("kind", "name", "params_json", "resolution_h", "resolution_w", "batch", "dtype",
                  "device", "mode", "status")

_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = 40


def row_problems(df: pd.DataFrame) -> pd.Series:
    """For each row, the first problem (``column resolution_h: 'abc' is not an integer``), or ""."""
    problems = pd.Series("", index=df.index, dtype=object)
    for column in df.columns:
        kind = COLUMN_TYPES.get(column)
        if kind is None and column not in FILLED_COLUMNS:
            continue
        values = df[column]
        empty = values.isna() | (values == "")
        if column in FILLED_COLUMNS:
            _note(problems, empty, values,
                  lambda _: f"column {column} is empty; every row names its cell and status")
        if kind is not None:
            bad, what = _CHECKS[kind](values.where(~empty))
            _note(problems, ~empty & bad, values,
                  lambda v: f"column {column}: {_shown.repr(v)} is not {what}")
        if kind in _RANGES:
            out, what = _RANGES[kind](values.where(~empty & ~bad))
            _note(problems, out, values, lambda v: f"column {column}: {_shown.repr(v)} is {what}")
    return problems


def _note(problems: pd.Series, bad: pd.Series, values: pd.Series, problem) -> None:
    """Record ``problem(value)`` for the rows in ``bad`` that have none yet."""
    new = (bad & (problems == "")).to_numpy(dtype=bool)
    if new.any():
        problems[new] = [problem(value) for value in values[new]]


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _int(values: pd.Series) -> tuple[pd.Series, str]:
    numbers = _numbers(values)
    return numbers.isna() | (numbers % 1 != 0), "an integer"


def _float(values: pd.Series) -> tuple[pd.Series, str]:
    return _numbers(values).isna(), "a number"


def _bool(values: pd.Series) -> tuple[pd.Series, str]:
    return ~values.astype(str).str.lower().isin(("true", "false")), "true or false"


def _json(expected: type, what: str):
    def check(values: pd.Series) -> tuple[pd.Series, str]:
        text = values.astype(str)
        good = {value for value in text.unique() if isinstance(value, str) and _parses_as(value, expected)}
        return ~text.isin(good), what
    return check


def _parses_as(text: str, expected: type) -> bool:
    try:
        return isinstance(json.loads(text), expected)
    except ValueError:  # JSONDecodeError, and numbers too large to convert
        return False


def _status(values: pd.Series) -> tuple[pd.Series, str]:
    return ~values.astype(str).isin(STATUSES), f"a status ({', '.join(STATUSES)})"


def _beyond_int64(values: pd.Series) -> tuple[pd.Series, str]:
    """Integers a 64-bit column cannot hold; beyond 2^53, where floats skip integers, decided on the text."""
    numbers = _numbers(values)
    out = pd.Series(False, index=values.index)
    large = (numbers.abs() >= 2 ** 53).to_numpy(dtype=bool)
    if large.any():
        out[large] = [not -2 ** 63 <= int(float(v) if "e" in str(v).lower() else str(v).split(".")[0]) < 2 ** 63
                      for v in values[large]]
    return out, "beyond a 64-bit integer (at most 9.2e18)"


def _not_finite(values: pd.Series) -> tuple[pd.Series, str]:
    numbers = _numbers(values)
    return numbers.notna() & ~numbers.abs().lt(float("inf")), "not a finite number"


_RANGES = {"int": _beyond_int64, "float": _not_finite}
"""Values of the right type that no cell can produce and the analysis cannot compute with."""

_CHECKS = {
    "int": _int,
    "float": _float,
    "bool": _bool,
    "json_object": _json(dict, "a JSON object"),
    "json_list": _json(list, "a JSON list"),
    "status": _status,
}
