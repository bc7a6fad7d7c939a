"""``report.html``: one self-contained page (PNGs embedded as base64, inline CSS, no network).

Order: verdicts (in words, then the cost models behind them), crossovers and headline ratios,
plots, the zoo against its released tables, the results table, the environment, the methods, and
the command that reproduces the run. Everything shown comes from one
:class:`~pacabench.analysis.run_analysis.RunAnalysis`. A large run's tables (verdicts, cost models,
results) each show their first :data:`MAX_TABLE_ROWS` rows and say so (scaling.csv and results.csv
hold them all), so the page stays a few MB whatever the run.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import math
from pathlib import Path

import jinja2
import pandas as pd

from pacabench.analysis import cost_model, scaling
from pacabench.analysis.expectations import expectation_items
from pacabench.analysis.released import CONVMIXER_NOTE
from pacabench.analysis.results import METRICS, Run
from pacabench.analysis.run_analysis import RunAnalysis, analyse
from pacabench.report.plots import write_plots
from pacabench.runner.atomic import replace_text

REPORT_NAME = "report.html"
PLOTS_DIR = "plots"
MAX_TABLE_ROWS = 2000
LEAD_COLUMNS = ("label", "resolution", "tokens", "batch", "dtype", "device", "mode", "status", "params", "gmacs",
                "gmacs_mixing", "gmacs_dense", "gmacs_other", "peak_mem_mb", "latency_ms_median", "latency_ms_p10",
                "latency_ms_p90", "throughput_img_s")
HIDDEN_COLUMNS = {"series", "resolution_h", "resolution_w", "cell_key", "module_macs"}


def build_report(source: str | Path | RunAnalysis) -> Path:
    """Write ``plots/*.png`` and ``report.html`` into the run folder (never through a link planted
    there: :class:`~pacabench.runner.atomic.PlantedLink`); return the page."""
    analysis = source if isinstance(source, RunAnalysis) else analyse(source)
    directory = analysis.run.directory
    page = render(analysis, write_plots_to=directory / PLOTS_DIR)
    path = directory / REPORT_NAME
    replace_text(path, page)
    return path


def render(analysis: RunAnalysis, write_plots_to: Path) -> str:
    run, df, table = analysis.run, analysis.df, analysis.scaling
    plots = write_plots(df, write_plots_to, verdicts=table)
    env = jinja2.Environment(loader=jinja2.PackageLoader("pacabench.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    results = df.head(MAX_TABLE_ROWS)
    verdict_rows, models = _verdict_rows(table, analysis.expectations, analysis.failures), _model_rows(table)
    return env.get_template("report.html.j2").render(
        title=f"pacabench report: {run.name}",
        generated=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        run=run, summary=_summary(df),
        verdict_rows=verdict_rows[:MAX_TABLE_ROWS], total_series=len(verdict_rows),
        metrics=[m for m in scaling.SCALING_METRICS if (table["metric"] == m).any()],
        metric_titles={m: METRICS[m][0] for m in METRICS},
        models=models[:MAX_TABLE_ROWS], total_models=len(models), failures=[str(f) for f in analysis.failures],
        expectations=analysis.expectations, expectation_count=len(expectation_items(analysis.expectations)),
        load_note=load_note(df, run.env),
        headlines=analysis.headlines, crossovers=analysis.crossovers.to_dict("records"),
        plots=[{"title": p.title, "caption": p.caption, "src": _data_uri(p.path)} for p in plots],
        released=analysis.released.to_dict("records"),
        results_columns=_results_columns(df), results=results.to_dict("records"), total_rows=len(df),
        env=_env_items(run.env), methods=_methods(run), command=_command(run),
        thresholds={"min_sizes": cost_model.MIN_SIZES, "share": scaling.QUADRATIC_SHARE,
                    "slope": scaling.QUADRATIC_SLOPE, "bootstrap": cost_model.BOOTSTRAP_SAMPLES},
        convmixer_note=CONVMIXER_NOTE,
    )


LOADED_RATE = 0.7
"""A timed cell whose matmul probe ran below this fraction of the run's best rate shared the machine."""


def load_note(df: pd.DataFrame, env) -> str:
    """Sentences when the run's timed cells were measured under load (empty when not, or not known):
    other work held CPUs when the run started, so its CPU cells timed with fewer threads than there
    are CPUs (env.json's ``cpu_threads``); a matmul probe well below the run's best; a load average
    above the cores the run had (its own threads count one core each)."""
    env = env if isinstance(env, dict) else {}
    cores, threads, why = env.get("cpu_count"), env.get("cpu_threads"), env.get("cpu_threads_why")
    notes = []
    if _whole(cores) and _whole(threads) and threads < cores and isinstance(why, str) and "idle" in why:
        notes.append(f"Other work held CPU time when the run started ({why}), so every CPU cell timed with "
                     f"{threads} of {cores} threads, on the cores it left free.")
    rates = (df[["matmul_gflops_before", "matmul_gflops_after"]].astype(float).min(axis=1).dropna()
             if "matmul_gflops_before" in df.columns else pd.Series(dtype=float))
    if not rates.empty:
        best = float(rates.max())
        load = df["load_avg_1m"].astype(float).reindex(rates.index) if "load_avg_1m" in df.columns else None
        loaded = rates < LOADED_RATE * best
        if _whole(cores) and load is not None:
            loaded |= load > cores + 0.5
        if loaded.any():
            load = load.max() if load is not None else float("nan")
            notes.append(f"{int(loaded.sum())} of {len(rates)} timed cells ran while the device's matmul rate was "
                         f"below {LOADED_RATE:.0%} of the best this run saw ({rates.min():.0f} against {best:.0f} "
                         f"GFLOP/s) or the 1-minute load average was above the {cores} cores (up to {load:.1f}).")
    if not notes:
        return ""
    return " ".join(notes) + (" Latency verdicts read time per token and name steps, so they hold under load; "
                              "absolute times and rates do not.")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


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
                                         for d, n in zip(df["device"], _column(df, "device_name"))}))}


def _verdict_rows(table: pd.DataFrame, expectations: dict, failures) -> list[dict]:
    """One row per series: each metric's verdict, its sentence and the N^2 share at the largest size,
    plus the series' expectations (``metric verdict``) and whether all are met."""
    rows = []
    for series, group in table.groupby("series", sort=False):
        cells = {r["metric"]: r for r in group.to_dict("records")}
        label = group["label"].iloc[0]
        expected = [f"{key} {verdict}" for name, key, verdict in expectation_items(expectations) if name == label]
        rows.append({"series": series, "kind": group["kind"].iloc[0], "cells": cells,
                     "expected": ", ".join(expected) or None,
                     "met": None if not expected else not any(f.label == label for f in failures),
                     "sentence": cells.get("gmacs", {}).get("reason")})
    return sorted(rows, key=lambda r: (r["kind"], "paca" not in r["series"].lower(), r["series"]))


def _model_rows(table: pd.DataFrame) -> list[dict]:
    """The cost models behind the verdicts, counts first, for the cost-model table."""
    order = {metric: i for i, metric in enumerate(scaling.SCALING_METRICS)}
    records = [r for r in table.to_dict("records") if r["method"] != "none"]
    return sorted(records, key=lambda r: (order.get(r["metric"], 9), r["kind"], r["series"]))


def _results_columns(df: pd.DataFrame) -> list[str]:
    lead = [c for c in LEAD_COLUMNS if c in df.columns]
    rest = [c for c in df.columns if c not in HIDDEN_COLUMNS and c not in lead]
    return [*lead, *rest, *(["cell_key"] if "cell_key" in df.columns else [])]


def _env_items(env: dict) -> list[tuple[str, str]]:
    return [(k, v if isinstance(v, str) else json.dumps(v, indent=1, default=str)) for k, v in env.items()]


def _methods(run: Run) -> dict:
    """What the rows say about how they were measured: methods, uncounted ops, samples, settings."""
    df = run.df
    uncounted: dict[str, int] = {}
    for value in _column(df, "uncounted_ops").dropna():
        try:
            ops = json.loads(value) if isinstance(value, str) else list(value)
        except (TypeError, ValueError):
            ops = [value]
        for op in ops:
            uncounted[str(op)] = uncounted.get(str(op), 0) + 1
    agree = _column(df, "flops_agree").dropna().astype(str).str.lower()
    samples = pd.to_numeric(_column(df, "latency_samples"), errors="coerce").dropna()
    suite = run.suite
    return {
        "flops_methods": sorted(_column(df, "flops_method").dropna().astype(str).unique()),
        "disagree": int((agree == "false").sum()), "crosschecked": int(agree.isin(["true", "false"]).sum()),
        "uncounted": sorted(uncounted.items()),
        "mem_methods": sorted(_column(df, "mem_method").dropna().astype(str).unique()),
        "samples": (int(samples.min()), int(samples.max())) if len(samples) else None,
        "warmup": suite.get("warmup"), "repeats": suite.get("repeats"), "min_time_s": suite.get("min_time_s"),
        "train_rows": int((df["mode"] == "train").sum()),
        "has_convmixer": bool(df["name"].astype(str).str.contains("convmixer").any()),
    }


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    """An optional column, empty when an older or hand-made results file lacks it."""
    return df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)


def _command(run: Run) -> str:
    """The recorded command line (program path shortened to ``pacabench``), else the suite's run."""
    if run.env.get("command"):
        program, _, rest = str(run.env["command"]).partition(" ")
        return f"pacabench {rest}" if Path(program).name == "pacabench" else str(run.env["command"])
    suite = run.env.get("suite_file") or f"suites/{run.name}.yaml"
    return f"pacabench run {suite}"
