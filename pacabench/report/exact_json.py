"""Tables as JSON with every number exact: floats as Python writes them (the shortest text that reads
back to the same double), integers as integers, missing and infinite values as null.

pandas' ``to_json`` rounds to 10 decimals: PaCa-Tiny's c2 = 3.75e-10 GMACs per token² came out as
4e-10. Every JSON document pacabench prints goes through :func:`records` and :func:`dumps`.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd


def records(table: pd.DataFrame) -> list[dict]:
    """The rows of ``table`` as dicts of plain Python values."""
    return [{str(key): plain(value) for key, value in row.items()} for row in table.to_dict("records")]


def plain(value):
    """A JSON-ready value: numpy scalars as Python ones, NaN, infinities, NA and NaT as None."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def dumps(value, indent: int | None = None) -> str:
    """``json.dumps`` that refuses NaN (pass values through :func:`plain` first)."""
    return json.dumps(value, indent=indent, allow_nan=False, default=str)
