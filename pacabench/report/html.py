"""``report.html``: one self-contained page (PNGs embedded as base64, inline CSS, no network).

Order: verdict table, crossovers and headline ratios, plots, the zoo against its released tables,
the full results table, the environment, the methods, and the command that reproduces the run.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import math
from pathlib import Path

import jinja2
import pandas as pd

from pacabench.analysis import scaling
from pacabench.analysis.crossover import crossover_table, headlines
from pacabench.analysis.expectations import check_expectations
from pacabench.analysis.released import CONVMIXER_NOTE, released_comparison
from pacabench.analysis.results import METRICS, Run, load_run
from pacabench.report.plots import write_plots

REPORT_NAME = "report.html"
PLOTS_DIR = "plots"
LEAD_COLUMNS = ("label", "resolution", "tokens", "batch", "dtype", "device", "mode", "status", "params", "gmacs",
                "peak_mem_mb", "latency_ms_median", "latency_ms_p10", "latency_ms_p90", "throughput_img_s")


def build_report(run_dir: str | Path) -> Path:
    """Analyse a results folder, write ``plots/*.png`` and ``report.html`` into it; return the page."""
    run = load_run(run_dir)
    page = render(run, write_plots_to=run.directory / PLOTS_DIR)
    path = run.directory / REPORT_NAME
    path.write_text(page, encoding="utf-8")
    return path


def render(run: Run, write_plots_to: Path) -> str:
    df = run.df
    table = scaling.scaling_table(df)
    expectations = run.suite.get("expectations") or {}
    failures = check_expectations(df, expectations, table=table)
    crossovers = crossover_table(df)
    plots = write_plots(df, write_plots_to, verdicts=table)
    env = jinja2.Environment(loader=jinja2.PackageLoader("pacabench.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env.get_template("report.html.j2").render(
        title=f"pacabench report: {run.name}",
        generated=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        run=run, summary=_summary(df),
        verdict_rows=_verdict_rows(table, expectations),
        metrics=[m for m in scaling.SCALING_METRICS if (table["metric"] == m).any()],
        metric_titles={m: METRICS[m][0] for m in METRICS},
        fits=table.to_dict("records"), failures=[str(f) for f in failures],
        expectations=expectations,
        headlines=headlines(df, crossovers), crossovers=crossovers.to_dict("records"),
        plots=[{"title": p.title, "caption": p.caption, "src": _data_uri(p.path)} for p in plots],
        released=released_comparison(df).to_dict("records"),
        results_columns=_results_columns(df), results=df.to_dict("records"),
        env=_env_items(run.env), methods=_methods(run), command=_command(run),
        thresholds={"min_points": scaling.MIN_POINTS, "linear": scaling.LINEAR_BAND,
                    "quadratic": scaling.QUADRATIC_BAND},
        convmixer_note=CONVMIXER_NOTE,
    )


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _num(value, digits: int = 4) -> str:
    """Numbers for tables: integers with separators, floats to ``digits`` significant digits."""
    if value is None or isinstance(value, str) or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, float) and math.isnan(value):
        return ""
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _summary(df: pd.DataFrame) -> dict:
    return {"rows": len(df), "series": df["series"].nunique(),
            "statuses": df["status"].value_counts().to_dict(),
            "resolutions": ", ".join(df.drop_duplicates("resolution").sort_values(
                ["resolution_h", "resolution_w"])["resolution"]),
            "devices": ", ".join(sorted({f"{d} ({n})" if isinstance(n, str) and n else str(d)
                                         for d, n in zip(df["device"], df["device_name"])}))}


def _verdict_rows(table: pd.DataFrame, expectations: dict) -> list[dict]:
    """One row per series: each metric's verdict and upper-half k, plus the GMACs expectation."""
    rows = []
    for series, group in table.groupby("series", sort=False):
        cells = {r["metric"]: r for r in group.to_dict("records")}
        label = group["label"].iloc[0]
        expected = expectations.get(label)
        gmacs = cells.get("gmacs", {}).get("verdict")
        rows.append({"series": series, "kind": group["kind"].iloc[0], "cells": cells, "expected": expected,
                     "met": None if expected is None else expected == gmacs})
    return sorted(rows, key=lambda r: (r["kind"], "paca" not in r["series"].lower(), r["series"]))


def _results_columns(df: pd.DataFrame) -> list[str]:
    hidden = {"series", "resolution_h", "resolution_w", "cell_key"}
    lead = [c for c in LEAD_COLUMNS if c in df.columns]
    rest = [c for c in df.columns if c not in hidden and c not in lead]
    return [*lead, *rest, "cell_key"]


def _env_items(env: dict) -> list[tuple[str, str]]:
    return [(k, v if isinstance(v, str) else json.dumps(v, indent=1, default=str)) for k, v in env.items()]


def _methods(run: Run) -> dict:
    """What the rows say about how they were measured: methods, uncounted ops, samples, settings."""
    df = run.df
    uncounted: dict[str, int] = {}
    for value in df["uncounted_ops"].dropna():
        try:
            ops = json.loads(value) if isinstance(value, str) else list(value)
        except (TypeError, ValueError):
            ops = [value]
        for op in ops:
            uncounted[str(op)] = uncounted.get(str(op), 0) + 1
    agree = df["flops_agree"].astype(str).str.lower() if "flops_agree" in df.columns else pd.Series([], dtype=str)
    samples = pd.to_numeric(df.get("latency_samples"), errors="coerce").dropna()
    suite = run.suite
    return {
        "flops_methods": sorted(df["flops_method"].dropna().astype(str).unique()) if "flops_method" in df else [],
        "disagree": int((agree == "false").sum()), "crosschecked": int(agree.isin(["true", "false"]).sum()),
        "uncounted": sorted(uncounted.items()),
        "mem_methods": sorted(df["mem_method"].dropna().astype(str).unique()) if "mem_method" in df else [],
        "samples": (int(samples.min()), int(samples.max())) if len(samples) else None,
        "warmup": suite.get("warmup"), "repeats": suite.get("repeats"), "min_time_s": suite.get("min_time_s"),
        "train_rows": int((df["mode"] == "train").sum()),
        "has_convmixer": bool(df["name"].astype(str).str.contains("convmixer").any()),
    }


def _command(run: Run) -> str:
    """The recorded command line (program path shortened to ``pacabench``), else the suite's run."""
    if run.env.get("command"):
        program, _, rest = str(run.env["command"]).partition(" ")
        return f"pacabench {rest}" if Path(program).name == "pacabench" else str(run.env["command"])
    suite = run.env.get("suite_file") or f"suites/{run.name}.yaml"
    return f"pacabench run {suite}"
