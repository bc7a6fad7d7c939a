"""Check a suite's ``expectations`` (label -> linear | quadratic) against the verdict table.

An expectation is about GMACs unless metrics are named (``label: {gmacs: linear, latency: linear,
memory: linear}``): exact counts are what a claim of linear attention is about, and they do not
depend on the machine; latency and memory say whether the measurements confirm them. Every series of the label must
get the expected verdict; an inconclusive verdict fails too (the claim was not confirmed).
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ExpectationFailure:
    label: str
    metric: str
    expected: str
    got: str
    why: str

    def __str__(self) -> str:
        return f"{self.label}: expected {self.expected} scaling of {self.metric}, got {self.got} ({self.why})"


METRIC_KEYS = {"gmacs": "gmacs", "mixing": "gmacs_mixing", "bytes": "bytes_written",
               "memory": "peak_mem_predicted_mb", "latency": "latency_ms_median"}
"""How a suite names each metric an expectation can be about -> the verdict table's metric. Memory is
the exact predicted peak where a run has it (every cell, run or not), else the measured peak."""
_FALLBACK = {"peak_mem_predicted_mb": "peak_mem_mb"}


def expectation_items(expectations: Mapping[str, str | Mapping[str, str]]) -> list[tuple[str, str, str]]:
    """(label, metric key, verdict) of every expectation: ``label: verdict`` is about GMACs,
    ``label: {metric: verdict, ...}`` about each metric named."""
    items = []
    for label, expected in expectations.items():
        pairs = expected.items() if isinstance(expected, Mapping) else [("gmacs", expected)]
        items += [(label, metric, verdict) for metric, verdict in pairs]
    return items


def check_expectations(table: pd.DataFrame, labels: Collection[str],
                       expectations: Mapping[str, str | Mapping[str, str]]) -> list[ExpectationFailure]:
    """Failures of ``expectations`` in a verdict table (``scaling_table``) of a run whose rows carry
    ``labels``; empty when all are met."""
    failures = []
    for label, key, expected in expectation_items(expectations):
        metric = METRIC_KEYS[key]
        rows = table[(table["label"] == label) & (table["metric"] == metric)]
        if rows.empty and metric in _FALLBACK:
            rows = table[(table["label"] == label) & (table["metric"] == _FALLBACK[metric])]
        if rows.empty and label not in labels:
            failures.append(ExpectationFailure(label, key, expected, "no rows",
                                               "no results carry this label; is it in the suite's targets?"))
        elif rows.empty:
            failures.append(ExpectationFailure(label, key, expected, "no values",
                                               f"no {key} values in this run; was it measured?"))
        for _, row in rows.iterrows():
            if row["verdict"] != expected:
                where = f" ({row['series']})" if row["series"] != label else ""
                failures.append(ExpectationFailure(label, key, expected, row["verdict"],
                                                   f"{row['reason']}{where}"))
    return failures
