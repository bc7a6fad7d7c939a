"""Where PaCa becomes cheaper than each peer, and by how much at the largest size measured.

PaCa series (labels containing "paca") are paired with every other series of the same context
(operator vs operator or model vs model, same batch, dtype, device, mode), per metric, over the
resolutions where both have a value. The crossover is the smallest resolution from which PaCa is
cheaper at that and every larger common resolution. Pairs with fewer than two common resolutions
(e.g. a zoo measured at 224 px only) have no crossover and no headline.
"""
from __future__ import annotations

import pandas as pd

from pacabench.analysis.results import CONTEXT_COLUMNS, is_paca, metric_rows, resolution_text

CROSSOVER_METRICS = ("gmacs", "peak_mem_mb", "latency_ms_median")
COLUMNS = ("paca", "peer", "metric", "crossover", "crossover_resolution", "common_points",
           "largest_common", "paca_value", "peer_value", "ratio")
# How a headline words a ratio: (PaCa cheaper, PaCa dearer).
_WORDS = {"gmacs": ("fewer GMACs", "more GMACs"), "peak_mem_mb": ("less peak memory", "more peak memory"),
          "latency_ms_median": ("faster", "slower")}


def pairs(df: pd.DataFrame) -> list[tuple[str, str]]:
    """(paca series, peer series) with the same context."""
    first = df.drop_duplicates("series")
    ctx_of = dict(zip(first["series"], first[list(CONTEXT_COLUMNS)].astype(str).itertuples(index=False)))
    paca_of = {series: is_paca(label) for series, label in zip(first["series"], first["label"])}
    peers_by_context: dict[tuple, list[str]] = {}
    for series, context in ctx_of.items():
        if not paca_of[series]:
            peers_by_context.setdefault(context, []).append(series)
    return [(p, q) for p, context in ctx_of.items() if paca_of[p] for q in peers_by_context.get(context, [])]


def _by_resolution(rows: pd.DataFrame, series: str, metric: str) -> pd.Series:
    part = rows[rows["series"] == series]
    return part.groupby(["resolution_h", "resolution_w"])[metric].median()


def crossover_table(df: pd.DataFrame, metrics=CROSSOVER_METRICS) -> pd.DataFrame:
    """One row per (PaCa series, peer series, metric); ratio = peer / PaCa at the largest common size."""
    out = []
    for metric in metrics:
        if metric not in df.columns:
            continue
        rows = metric_rows(df, metric)
        for paca, peer in pairs(df):
            joined = pd.concat({"paca": _by_resolution(rows, paca, metric),
                                "peer": _by_resolution(rows, peer, metric)}, axis=1).dropna()
            if len(joined) < 2:
                continue  # a crossover needs a sweep: at least two common sizes
            joined = joined.assign(pixels=[h * w for h, w in joined.index]).sort_values("pixels")
            cheaper = (joined["paca"] < joined["peer"]).tolist()
            first = len(cheaper)  # start of the run of sizes where PaCa is cheaper, up to the largest
            while first > 0 and cheaper[first - 1]:
                first -= 1
            if first == len(cheaper):
                crossover, at = "never (in the range measured)", None
            else:
                at = resolution_text(*joined.index[first])
                crossover = f"at every size measured (from {at})" if first == 0 else f"from {at}"
            last = joined.iloc[-1]
            out.append({"paca": paca, "peer": peer, "metric": metric, "crossover": crossover,
                        "crossover_resolution": at, "common_points": len(joined),
                        "largest_common": resolution_text(*joined.index[-1]),
                        "paca_value": last["paca"], "peer_value": last["peer"],
                        "ratio": last["peer"] / last["paca"]})
    return pd.DataFrame(out, columns=list(COLUMNS))


def headlines(df: pd.DataFrame, table: pd.DataFrame | None = None) -> list[str]:
    """Sentences such as 'At 2048 px op:paca needs 7.9x fewer GMACs and 4.2x less peak memory than
    op:vit, and is 3.1x faster.' The size is the largest one where both have GMACs; when the peer
    could not be measured there (out of memory, over budget), the sentence says so."""
    table = crossover_table(df) if table is None else table
    lines = []
    for (paca, peer), group in table.groupby(["paca", "peer"], sort=False):
        by_metric = group.set_index("metric")
        if "gmacs" not in by_metric.index:
            continue
        size = by_metric.loc["gmacs", "largest_common"]

        def ratio(metric):
            same_size = metric in by_metric.index and by_metric.loc[metric, "largest_common"] == size
            return by_metric.loc[metric, "ratio"] if same_size else None

        needs = [_times(ratio(m), *_WORDS[m]) for m in ("gmacs", "peak_mem_mb") if ratio(m) is not None]
        line = f"At {size} {paca} needs {' and '.join(needs)} than {peer}"
        if ratio("latency_ms_median") is not None:
            line += ", and is " + _times(ratio("latency_ms_median"), *_WORDS["latency_ms_median"])
        status = _status_at(df, peer, size)
        if status not in (None, "ok"):
            line += f" ({peer} {_STATUS_WORDS.get(status, status)} at {size}"
            measured = group[group["metric"] != "gmacs"].sort_values("common_points")
            if len(measured):
                at = measured["largest_common"].iloc[-1]
                earlier = [_times(r["ratio"], *_WORDS[r["metric"]])
                           for _, r in measured[measured["largest_common"] == at].iterrows()]
                line += f"; at {at}: " + ", ".join(earlier)
            line += ")"
        lines.append(line + ".")
    return lines


def _times(ratio: float, cheaper: str, dearer: str) -> str:
    return f"{ratio:.1f}x {cheaper}" if ratio >= 1 else f"{1 / ratio:.1f}x {dearer}"


_STATUS_WORDS = {"oom": "ran out of memory", "skipped_budget": "was skipped (over budget)",
                 "timeout": "timed out", "error": "failed"}


def _status_at(df: pd.DataFrame, series: str, size: str) -> str | None:
    rows = df[(df["series"] == series) & (df["resolution"] == size)]
    return None if rows.empty else str(rows["status"].iloc[0])
