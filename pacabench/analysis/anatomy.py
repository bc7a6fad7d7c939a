"""Where the cost of a series lives: which modules carry its N^2 term, and how its MACs split by
stage and op class at each size.

Reads the rows' ``module_macs`` (module path -> [mixing, dense, other] MACs, written by the counter
down to a fixed depth), and likewise ``module_bytes`` (bytes written) and ``module_peak_bytes``
(each module's own predicted peak). Every module's counts get their own exact cost model, so "the
N^2 term is in stage4.[0-1].attn" is a fit of that module's own counts, not a guess from its name.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict

import pandas as pd

from pacabench.analysis.cost_model import MIN_SIZES, fit_counts, per_token_slope

OP_CLASSES = ("mixing", "dense", "other")
QUADRATIC_SLOPE = 0.5
"""When counts are not a polynomial in N, a cost whose value per token grows faster than N**0.5
(log-log slope of value / N against N) is called quadratic: a linear cost has slope ~0, N^2 has 1."""


def module_macs(value) -> dict[str, list[int]]:
    """A row's ``module_macs`` (JSON text in a CSV, a dict in memory); {} when absent."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _component(macs: list[int] | int, part: str) -> int:
    if isinstance(macs, int):  # one value per module (module_peak_bytes)
        return macs
    return sum(macs) if part == "total" else macs[OP_CLASSES.index(part)]


def module_table(rows: pd.DataFrame, part: str = "total", column: str = "module_macs") -> dict[str, dict[int, int]]:
    """Module path -> {tokens: ``part`` of ``column``} over the rows of one series (one row per size):
    MACs (``module_macs``), bytes written (``module_bytes``) or bytes live at the peak
    (``module_peak_bytes``)."""
    table: dict[str, dict[int, int]] = defaultdict(dict)
    for tokens, value in zip(rows["tokens"], rows[column]):
        for path, macs in module_macs(value).items():
            table[path][int(tokens)] = _component(macs, part)
    return table


def carries_quadratic(counts: dict[int, int], exact_series: bool) -> float:
    """The N^2 coefficient a module's counts carry (0 when none): the exact model's c2 when the
    series is a polynomial in N, else 1 when its MACs per token grow faster than N**0.5."""
    if len(counts) < 3:
        return 0.0
    if exact_series:
        model = fit_counts(counts.keys(), counts.values())
        return model.c2 if model is not None and model.has_quadratic_term() else 0.0
    slope = per_token_slope(list(counts), list(counts.values()))
    return 1.0 if slope is not None and slope > QUADRATIC_SLOPE else 0.0


def quadratic_modules(rows: pd.DataFrame, part: str = "total", exact_series: bool = True,
                      column: str = "module_macs") -> dict[str, float]:
    """The deepest modules whose counts carry an N^2 term -> their share of the series' N^2 term
    (the series' modules down to the depth the rows hold). Empty when the rows hold no modules."""
    if column not in rows.columns or len(rows) < min(3, MIN_SIZES):
        return {}
    table = module_table(rows, part, column)
    sizes = len(set(rows["tokens"]))
    weights = {path: carries_quadratic(counts, exact_series) for path, counts in table.items()
               if len(counts) == sizes}
    carriers = {path for path, weight in weights.items() if weight > 0}
    leaves = {path for path in carriers if not any(other.startswith(path + ".") for other in carriers)}
    total = sum(weights[path] for path in leaves)
    return {path: weights[path] / total for path in sorted(leaves)} if total else {}


def _pattern(path: str) -> tuple[str, tuple[str, ...]]:
    parts = path.split(".")
    return ".".join("#" if p.isdigit() else p for p in parts), tuple(p for p in parts if p.isdigit())


def _indices(values: set[str]) -> str:
    numbers = sorted(int(v) for v in values)
    if len(numbers) == 1:
        return str(numbers[0])
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"[{numbers[0]}-{numbers[-1]}]"
    return "[" + ",".join(map(str, numbers)) + "]"


ROOT_OPS = "the top-level module's own forward"
"""Where an N^2 term lives when no submodule's counts carry it."""


def carriers_text(rows: pd.DataFrame, part: str = "total", exact_series: bool = True,
                  column: str = "module_macs") -> str:
    """Where a quadratic series' N^2 term lives, in words; empty when the rows hold no module counts."""
    if column not in rows.columns or not any(module_macs(v) for v in rows[column]):
        return ""
    return describe_modules(quadratic_modules(rows, part, exact_series, column)) or ROOT_OPS


def describe_modules(shares: dict[str, float]) -> str:
    """``{"stage4.0.attn": .5, "stage4.1.attn": .5}`` -> ``"stage4.[0-1].attn"``; several patterns
    are listed with their share of the N^2 term, largest first."""
    groups: dict[str, list[tuple[tuple[str, ...], float]]] = defaultdict(list)
    for path, share in shares.items():
        pattern, numbers = _pattern(path)
        groups[pattern].append((numbers, share))
    described = []
    for pattern, members in groups.items():
        positions = [set(numbers[i] for numbers, _ in members) for i in range(pattern.count("#"))]
        text = pattern
        for values in positions:
            text = text.replace("#", _indices(values), 1)
        described.append((sum(share for _, share in members), text))
    described.sort(key=lambda item: -item[0])
    if len(described) == 1:
        return described[0][1]
    return ", ".join(f"{text} ({share:.0%})" for share, text in described)


def stage_of(path: str, paths: set[str]) -> str:
    """The part a module belongs to: its top-level module, or ``layers.2`` when the top level is a
    list of stages that each hold a list of blocks (Swin's ``layers``, PVTv2's ``stages``)."""
    head, _, rest = path.partition(".")
    index = rest.split(".", 1)[0]
    if index.isdigit() and any(re.match(rf"{re.escape(head)}\.{index}\.[^.]+\.\d+(\.|$)", p) for p in paths):
        return f"{head}.{index}"
    return head


def stage_split(value) -> dict[str, dict[str, int]]:
    """One row's MACs by stage (in model order) and op class; MACs of the root module's own ops
    (none in the zoo and its peers) are left out."""
    macs = module_macs(value)
    paths = set(macs)
    stages = {stage_of(path, paths) for path in paths}
    stages -= {outer for outer in stages if any(inner.startswith(outer + ".") for inner in stages)}
    return {path: dict(zip(OP_CLASSES, values)) for path, values in macs.items() if path in stages}
