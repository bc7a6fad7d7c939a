"""Read a results folder (or CSV) into a labelled DataFrame that every analysis shares.

Each row gets a ``label`` (the runner's :func:`pacabench.runner.suite.row_label`: model name,
``op:<name>`` or the suite's explicit label) and a ``series``: the label, plus the settings that
tell apart several measured series of the same label (batch, dtype, device, ...). A fit, a plot
line and a crossover are always computed over one series, so runs that sweep batch sizes or dtypes
never mix them into one curve.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# Metrics the analysis understands: column -> (short title, unit).
METRICS = {
    "gmacs": ("GMACs", "GMACs"),
    "gmacs_mixing": ("Mixing GMACs", "GMACs"),
    "bytes_written": ("Bytes written", "bytes"),
    "peak_mem_predicted_mb": ("Peak memory (predicted)", "MB"),
    "peak_mem_mb": ("Peak memory", "MB"),
    "latency_ms_median": ("Latency (median)", "ms"),
    "throughput_img_s": ("Throughput", "images/s"),
    "latency_us_per_token": ("Latency per token", "µs"),
    "achieved_gmacs_per_s": ("Achieved GMAC/s", "GMAC/s"),
}
DERIVED_METRICS = {  # drawn, not stored: each a function of a labelled results frame
    "latency_us_per_token": lambda df: pd.to_numeric(df["latency_ms_median"], errors="coerce") * 1e3
    / pd.to_numeric(df["tokens"], errors="coerce") / pd.to_numeric(df["batch"], errors="coerce"),
    "achieved_gmacs_per_s": lambda df: pd.to_numeric(df["gmacs"], errors="coerce")
    / (pd.to_numeric(df["latency_ms_median"], errors="coerce") / 1e3),
}
COUNTED_METRICS = ("gmacs", "gmacs_mixing", "gmacs_dense", "gmacs_other", "gmacs_backward", "params",
                   "bytes_written", "bytes_written_mixing", "bytes_written_dense", "bytes_written_other",
                   "peak_mem_predicted_mb")
"""Exact counts (and the exact meta-device peak): also present on oom / skipped / timed-out cells."""

# Columns that define a measured cell apart from its resolution; several values of one of them
# within a label make several series.
SERIES_COLUMNS = ("params_json", "batch", "dtype", "device", "mode", "channels_last", "compile")
# Columns that make two series comparable (crossovers pair PaCa with peers only inside one context).
CONTEXT_COLUMNS = ("kind", "batch", "dtype", "device", "mode", "channels_last", "compile", "fused_attn")
REQUIRED_COLUMNS = ("kind", "name", "params_json", "resolution_h", "resolution_w", "tokens", "batch",
                    "dtype", "device", "mode", "status", "params", "gmacs")
# What a row measured, apart from the device it ran on (compare joins runs on these). With ``device``
# they name the cell: a results file holds one row per cell.
MEASUREMENT_COLUMNS = ("kind", "name", "params_json", "resolution_h", "resolution_w", "batch", "dtype",
                       "mode", "channels_last", "compile")
CELL_COLUMNS = (*MEASUREMENT_COLUMNS, "device")


class ResultsError(Exception):
    """Unusable results input; the message is one line naming the file and the fix."""


@dataclass
class Run:
    """A results folder: rows plus the suite and environment stored beside them."""

    df: pd.DataFrame
    directory: Path | None
    suite: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.suite.get("name") or (self.directory.name if self.directory else "results"))


def results_csv(path: str | Path) -> Path:
    """The results file a path stands for: the path itself, or ``results.csv`` inside a folder."""
    path = Path(path)
    return path / "results.csv" if path.is_dir() else path


def load_results(path: str | Path) -> pd.DataFrame:
    """Rows of a results folder / CSV / Parquet file, checked and labelled; ResultsError when unusable."""
    file = results_csv(path)
    if not file.exists():
        raise ResultsError(f"{path}: no results.csv found; pass a run folder (results/<run>/) or a results CSV")
    try:
        df = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file, encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - any parse failure is an unusable input
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ResultsError(f"{file}: cannot read: {first_line}") from None
    return label_rows(checked(df, file))


def checked(df: pd.DataFrame, source) -> pd.DataFrame:
    """``df`` if it is a usable results table, with every column a row has (those it lacks empty);
    else ResultsError naming ``source``, the first bad row and the fix.

    Usable: the REQUIRED_COLUMNS, rows that conform to the results schema
    (:func:`pacabench.measure.schema.row_problems`), and one row per cell (CELL_COLUMNS).
    """
    from pacabench.measure.schema import ROW_COLUMNS, row_problems

    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ResultsError(f"{source}: missing columns {', '.join(missing)}; "
                           f"expected a pacabench results.csv")
    if df.empty:
        raise ResultsError(f"{source}: no rows; run a suite first (pacabench run SUITE)")
    df = df.reset_index(drop=True)
    problems = row_problems(df)
    bad = problems.to_numpy() != ""
    if bad.any():
        first = int(bad.argmax())
        raise ResultsError(f"{source}: data row {first + 1}: {problems.iloc[first]}; expected a pacabench "
                           f"results file: fix or remove that row")
    cell_columns = [c for c in CELL_COLUMNS if c in df.columns]
    repeats = df.duplicated(cell_columns).to_numpy()
    if repeats.any():
        second = int(repeats.argmax())
        cells = df.groupby(cell_columns, dropna=False, sort=False).ngroup().to_numpy()
        first = int((cells == cells[second]).argmax())
        row = df.iloc[first]
        cell = f"{row['name']} {int(row['resolution_h'])}x{int(row['resolution_w'])} b{int(row['batch'])}"
        raise ResultsError(f"{source}: data rows {first + 1} and {second + 1} are the same cell ({cell} "
                           f"{row['dtype']} {row['mode']} {row['device']}); a results file holds one row "
                           f"per cell: remove the repeated rows, or compare one run's file")
    return df.assign(**{c: np.nan for c in ROW_COLUMNS if c not in df.columns})


def load_run(path: str | Path) -> Run:
    """A results folder with its ``suite.yaml`` and ``env.json`` (both optional), read as data: bounded,
    typed (:func:`pacabench.runner.suite.read_run_suite`), never through a link."""
    from pacabench.runner.atomic import PlantedLink, read_json_object
    from pacabench.runner.suite import SuiteError, read_run_suite

    path = Path(path)
    directory = path if path.is_dir() else path.parent
    df = load_results(path)
    suite_file, env_file = directory / "suite.yaml", directory / "env.json"
    try:
        suite = read_run_suite(suite_file) if os.path.lexists(suite_file) else {}
        env = read_json_object(env_file) if os.path.lexists(env_file) else {}
    except SuiteError as exc:
        raise ResultsError(exc.problems[0]) from None
    except PlantedLink as exc:
        raise ResultsError(str(exc)) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ResultsError(f"{env_file}: unusable: {reason}; pacabench writes env.json as a JSON object "
                           f"(pacabench env --json): restore or remove it") from None
    return Run(df=df, directory=directory, suite=suite, env=env)


def label_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``label``, ``series`` and ``resolution`` (e.g. '224 px', '320x640 px') columns."""
    from pacabench.runner.suite import row_label

    df = df.copy()
    for col in ("channels_last", "compile"):  # absent or empty in files older than these settings
        df[col] = df[col].astype(str).str.lower().eq("true") if col in df.columns else False
    df["fused_attn"] = _per_distinct(df, ["params_json"], _fused_attn).astype(bool)
    identity = [c for c in ("kind", "name", "label") if c in df.columns]
    df["label"] = _per_distinct(df, identity, lambda *values: row_label(dict(zip(identity, values))))
    df["series"] = df["label"]
    for label, rows in df.groupby("label", sort=False):
        varying = [c for c in SERIES_COLUMNS if rows[c].astype(str).nunique() > 1]
        if varying:
            suffix = f"{varying[0]}=" + rows[varying[0]].astype(str)
            for column in varying[1:]:
                suffix = suffix + f", {column}=" + rows[column].astype(str)
            df.loc[rows.index, "series"] = label + " [" + suffix + "]"
    df["resolution"] = _per_distinct(df, ["resolution_h", "resolution_w"], resolution_text)
    return df


def _per_distinct(df: pd.DataFrame, columns: list[str], function) -> np.ndarray:
    """``function(*values)`` of each row's ``columns``, computed once per distinct combination (a run
    of a million rows has a few hundred)."""
    codes = df.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    results = [function(*values) for values in df.drop_duplicates(columns)[columns].itertuples(index=False)]
    out = np.empty(len(results), dtype=object)
    out[:] = results
    return out[codes]


def _fused_attn(params_json) -> bool:
    """The target's ``fused_attn`` parameter (default true): explicit attention is only compared with
    explicit attention."""
    params = json.loads(params_json) if isinstance(params_json, str) and params_json else {}
    return bool(params.get("fused_attn", True))


def resolution_text(h: int, w: int) -> str:
    return f"{int(h)} px" if int(h) == int(w) else f"{int(h)}x{int(w)} px"


def metric_rows(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows that carry a usable value of ``metric`` and their token count (every fit is against N).

    Counts (GMACs, params) are exact whatever happened at run time, so cells that ran out of memory
    or were skipped over budget still contribute them; measured metrics come only from ``ok`` cells.
    """
    values = pd.to_numeric(df[metric], errors="coerce")
    usable = values.notna() & (values > 0) & (pd.to_numeric(df["tokens"], errors="coerce") > 0)
    if metric in COUNTED_METRICS:
        usable &= df["status"] != "error"
    else:
        usable &= df["status"] == "ok"
    out = df[usable].copy()
    out[metric] = values[usable].astype(float)
    return out


def is_paca(label: str) -> bool:
    """PaCa operators (op:paca, op:paca_mlp, ...) and the PaCa-ViT zoo (pacavit_*)."""
    return "paca" in label.lower()
