"""Check a suite's ``expectations`` (label -> linear | quadratic) against the verdict table.

An expectation is about GMACs unless another metric is named: exact counts are what a claim of
linear attention is about, and they do not depend on the machine. Every series of the label must
get the expected verdict; an inconclusive verdict fails too (the claim was not confirmed).
"""
from __future__ import annotations

from collections.abc import Collection
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


def check_expectations(table: pd.DataFrame, labels: Collection[str], expectations: dict[str, str],
                       metric: str = "gmacs") -> list[ExpectationFailure]:
    """Failures of ``expectations`` in a verdict table (``scaling_table``) of a run whose rows carry
    ``labels``; empty when all are met."""
    table = table[table["metric"] == metric]
    failures = []
    for label, expected in expectations.items():
        rows = table[table["label"] == label]
        if rows.empty and label not in labels:
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
