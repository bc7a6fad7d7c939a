"""The cost model of one target without a run: count it on the meta device at several sizes and fit
its counts (``pacabench scaling``, and the Python API).

Only the primary counter runs (no fvcore cross-check: ``pacabench flops`` has it), and the peak memory
of an inference pass is predicted by the live-tensor tracker on meta tensors, so a target is counted
at six sizes up to 4032 px in seconds.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Mapping

import pandas as pd

from pacabench.analysis.cost_model import CostModel
from pacabench.analysis.results import label_rows
from pacabench.analysis.scaling import COUNT_METRICS, NOUNS, Scaling, _row, scaling_table

if TYPE_CHECKING:
    from pacabench.measure.counts import TargetCount

DEFAULT_RESOLUTIONS = (224, 448, 896, 1344, 2240, 4032)
"""Multiples of 224: every family takes them (pyramids need 32, ViT 16, operators their stride), Swin's
7x7 windows need no padding at any stage, and six sizes check a three-term model three times."""


def count_rows(count_at: Callable[[int, int], TargetCount], sizes: Sequence[tuple[int, int]], *, kind: str,
               name: str, params: Mapping, batch: int = 1, label: str | None = None) -> pd.DataFrame:
    """Labelled results rows (counts only) of a target at each (height, width); ``count_at(h, w)``
    counts it there (TargetError if a size does not fit)."""
    from pacabench.measure.flops import MODULE_DEPTH
    from pacabench.measure.memory import peak_columns, predict_peak

    rows = []
    for height, width in sizes:
        counted = count_at(height, width)
        try:
            peak = peak_columns(predict_peak(counted.built), MODULE_DEPTH)
        except Exception:  # noqa: BLE001 - an op without a meta kernel: counts without a predicted peak
            peak = {}
        rows.append({"kind": kind, "name": name, "params_json": json.dumps(dict(params), sort_keys=True),
                     "label": label or "", "resolution_h": height, "resolution_w": width, "batch": batch,
                     "dtype": "float32", "device": "meta", "mode": "inference", "channels_last": False,
                     "compile": False, "status": "ok", **counted.row(), **peak})
    return label_rows(pd.DataFrame(rows))


def count_scaling(rows: pd.DataFrame) -> pd.DataFrame:
    """The verdict table (``scaling.csv``'s columns) of counted rows: GMACs, mixing GMACs, bytes written
    and the predicted peak memory (CPU kernels, inference), one row each, also for a count that is zero
    at every size (a run's table leaves such a metric out)."""
    table = scaling_table(rows, metrics=COUNT_METRICS)
    missing = [_zero_row(rows, metric) for metric in COUNT_METRICS if metric not in set(table["metric"])]
    if not missing:
        return table
    table = pd.concat([table, pd.DataFrame(missing, columns=table.columns)], ignore_index=True)
    return table.sort_values("metric", key=lambda m: m.map(COUNT_METRICS.index), kind="stable", ignore_index=True)


def _zero_row(rows: pd.DataFrame, metric: str) -> dict:
    """The verdict of a count that is 0 at every size (no attention: no mixing MACs; a module with no
    MACs at all): exactly linear, c0 = c1 = c2 = 0."""
    part = rows.sort_values("tokens", kind="stable").drop_duplicates(["resolution_h", "resolution_w"])
    tokens = tuple(int(n) for n in part["tokens"])
    model = CostModel(0.0, 0.0, 0.0, tokens, (0.0,) * len(tokens), exact=True, max_residual=0.0)
    why = "no product of two activations: no attention" if metric == "gmacs_mixing" else "no MACs counted"
    reason = f"linear: {NOUNS[metric]} are 0 at all {len(set(tokens))} sizes ({why}); c2 = 0"
    return _row(part.iloc[0]["series"], part.iloc[0], metric, part, Scaling("linear", reason, model, "exact"))
