"""Check a suite's ``expectations`` (label -> linear | quadratic) against the scaling verdicts.

An expectation is about GMACs unless another metric is named: exact counts are what a claim of
linear attention is about, and they do not depend on the machine. Every series of the label must
get the expected verdict; an inconclusive verdict fails too (the claim was not confirmed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pacabench.analysis.results import load_run
from pacabench.analysis.scaling import scaling_table


@dataclass(frozen=True)
class ExpectationFailure:
    label: str
    metric: str
    expected: str
    got: str
    why: str

    def __str__(self) -> str:
        return f"{self.label}: expected {self.expected} scaling of {self.metric}, got {self.got} ({self.why})"


def check_expectations(run: str | Path | pd.DataFrame, expectations: dict[str, str],
                       metric: str = "gmacs", table: pd.DataFrame | None = None) -> list[ExpectationFailure]:
    """Failures of ``expectations`` in a results folder or labelled results frame (empty: all met).

    ``table`` is a precomputed ``scaling_table`` of the same rows, to avoid fitting twice.
    """
    df = run if isinstance(run, pd.DataFrame) else load_run(run).df
    if table is None:
        table = scaling_table(df, metrics=(metric,))
    table = table[table["metric"] == metric]
    failures = []
    for label, expected in expectations.items():
        rows = table[table["label"] == label]
        if rows.empty and not (df["label"] == label).any():
            failures.append(ExpectationFailure(label, metric, expected, "no rows",
                                               "no results carry this label; is it in the suite's targets?"))
        elif rows.empty:
            failures.append(ExpectationFailure(label, metric, expected, "no values",
                                               f"no {metric} values in this run; was it measured?"))
        for _, row in rows.iterrows():
            if row["verdict"] != expected:
                where = f" ({row['series']})" if row["series"] != label else ""
                failures.append(ExpectationFailure(label, metric, expected, row["verdict"],
                                                   f"{row['reason']}{where}"))
    return failures
