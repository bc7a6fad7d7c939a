"""Run a suite's cells through an executor and keep every result on disk as soon as it exists.

The results folder (``results/<YYYYmmdd-HHMMSS>_<suite>/`` or ``--out``) holds:

* ``results.csv``: one row per cell (``ROW_COLUMNS`` then ``label``), appended and flushed the moment
  the cell finishes, so an interrupted or crashed run keeps everything it measured;
* ``results.parquet``: the same table, rewritten at the end (also after Ctrl-C);
* ``env.json``: the environment capture of the measurement core, plus suite file, time, command;
* ``suite.yaml``: the suite as run (analysis reads ``name`` and ``expectations`` from it).

Resume: cells whose ``cell_key`` already has a row with status ok, oom or skipped_budget are not run
again; rows with status error or timeout are dropped and their cells rerun, because those are often
transient (a loaded machine, a killed process) and a deterministic error simply comes back.

Time budgets: each cell is handed, when the executor asks for it, a ``time_hint`` to predict its time
with (:mod:`pacabench.measure.budget`): the seconds per GMAC measured in the cells of its series done
so far (also those of a resumed run), or for the first cell of a series on CPU the CPU's matmul rate,
measured here once per sweep (CUDA is never initialised here: CUDA cells measure their own rate). An
executor that takes all cells at once (Ray) gets only the device-rate hints.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from pacabench.measure.budget import TimeHint, observed_hint, rate_hint, series_hint
from pacabench.measure.cell import ROW_COLUMNS, Cell
from pacabench.measure.env import device_name
from pacabench.runner.cells import expand_cells
from pacabench.runner.executor import Executor
from pacabench.runner.suite import Suite, row_label

RESULT_COLUMNS = (*ROW_COLUMNS, "label")
DONE_STATUSES = frozenset({"ok", "oom", "skipped_budget"})
CSV_NAME, PARQUET_NAME, ENV_NAME, SUITE_NAME = "results.csv", "results.parquet", "env.json", "suite.yaml"


@dataclass
class SweepSummary:
    out_dir: Path
    total: int                       # cells in the suite
    skipped_done: int                # cells already done in a resumed folder
    statuses: Counter = field(default_factory=Counter)  # statuses of the cells run this time
    interrupted: bool = False


def default_run_dir(suite_name: str, root: str | Path = "results") -> Path:
    return Path(root) / f"{dt.datetime.now():%Y%m%d-%H%M%S}_{suite_name}"


def run_sweep(suite: Suite, out_dir: str | Path, executor: Executor, *, resume: bool = False,
              progress: bool = True, command: str | None = None) -> SweepSummary:
    """Measure every cell of ``suite`` into ``out_dir``; return counts. Ctrl-C stops after the
    current cell, writes what is done and returns with ``interrupted=True``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labelled = _unique(expand_cells(suite))
    label_of = {cell.key: label for label, cell in labelled}
    done_rows = _keep_done_rows(out_dir / CSV_NAME) if resume else []
    if not resume:
        _write_rows(out_dir / CSV_NAME, [], mode="w")
    done_keys = {row["cell_key"] for row in done_rows}
    todo = [cell for _, cell in labelled if cell.key not in done_keys]
    hints = _TimeHints()
    cell_of = {cell.key: cell for _, cell in labelled}
    for row in done_rows:
        hints.observe(cell_of.get(row["cell_key"]), row)
    (out_dir / SUITE_NAME).write_text(suite.to_yaml())
    _write_env(out_dir / ENV_NAME, suite, command, resumed=resume)

    summary = SweepSummary(out_dir, total=len(labelled), skipped_done=len(labelled) - len(todo))
    reporter = _Progress(len(todo), label_of, enabled=progress)
    try:
        with reporter, (out_dir / CSV_NAME).open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
            pending = {cell.key: cell for cell in todo}
            reporter.running(next(iter(pending.values()), None))
            for row in executor.map(hints.feed(todo)):
                row = {**row, "label": label_of.get(row.get("cell_key")) or row_label(row)}
                writer.writerow(_csv_values(row))
                f.flush()
                hints.observe(pending.pop(row.get("cell_key"), None), row)
                summary.statuses[row.get("status")] += 1
                reporter.finished(row, next(iter(pending.values()), None))
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        executor.close()
        write_parquet(out_dir)
    return summary


def write_parquet(out_dir: Path) -> Path:
    """Rewrite results.parquet from results.csv so the two always hold the same rows."""
    import pandas as pd

    df = pd.read_csv(out_dir / CSV_NAME, keep_default_na=True)
    path = out_dir / PARQUET_NAME
    df.to_parquet(path, index=False)
    return path


def _unique(labelled: list[tuple[str, Cell]]) -> list[tuple[str, Cell]]:
    """Drop repeated cells (two entries asking for the same measurement); the first label wins."""
    seen: dict[str, tuple[str, Cell]] = {}
    for label, cell in labelled:
        seen.setdefault(cell.key, (label, cell))
    return list(seen.values())


def _keep_done_rows(path: Path) -> list[dict]:
    """Keep only finished rows of an earlier run in ``path``; return them."""
    if not path.exists():
        _write_rows(path, [], mode="w")
        return []
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("status") in DONE_STATUSES]
    _write_rows(path, rows, mode="w")
    return rows


def _series(cell: Cell) -> tuple:
    """Cells whose seconds per GMAC predict each other's: one target at growing sizes."""
    return (cell.kind, cell.name, cell.params_json, cell.batch, cell.dtype, cell.mode, cell.device,
            cell.channels_last, cell.compile)


class _TimeHints:
    """What the sweep has learnt about predicting cell times, handed to each cell as it is taken."""

    def __init__(self):
        self._observed: dict[tuple, list[TimeHint]] = defaultdict(list)
        self._cpu_rate: dict[str, TimeHint] = {}  # mode -> hint, measured on first use

    def observe(self, cell: Cell | None, row: dict) -> None:
        hint = observed_hint(row) if cell is not None else None
        if hint is not None:
            self._observed[_series(cell)].append(hint)

    def _hint(self, cell: Cell) -> TimeHint | None:
        hint = series_hint(self._observed[_series(cell)])
        if hint is not None or cell.device != "cpu":
            return hint
        if cell.mode not in self._cpu_rate:
            self._cpu_rate[cell.mode] = rate_hint(torch.device("cpu"), cell.mode, device_name("cpu"))
        return self._cpu_rate[cell.mode]

    def feed(self, cells: Iterable[Cell]) -> Iterator[Cell]:
        """``cells`` with their hints filled from the rows observed by the time each is taken."""
        for cell in cells:
            hint = self._hint(cell) if cell.budget_seconds is not None else None
            yield cell if hint is None else replace(cell, time_hint=hint)


def _write_rows(path: Path, rows: Sequence[dict], mode: str) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open(mode, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _csv_values(row: dict) -> dict:
    """Lists and dicts as JSON, None as an empty cell, everything else as written by csv."""
    return {k: json.dumps(v) if isinstance(v, (list, tuple, dict)) else ("" if v is None else v)
            for k, v in row.items()}


def _write_env(path: Path, suite: Suite, command: str | None, resumed: bool) -> None:
    from pacabench.measure.env import capture_env

    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    invocation = {"time": now, "command": command or " ".join(sys.argv)}
    if resumed and path.exists():
        env = json.loads(path.read_text())
        env.setdefault("resumed", []).append(invocation)
    else:
        env = {**capture_env(), "suite": suite.name, "suite_file": suite.source, **invocation}
    path.write_text(json.dumps(env, indent=2, default=str) + "\n")


def describe(cell: Cell, label: str) -> str:
    return (f"{label} {cell.height}x{cell.width} b{cell.batch} {cell.dtype} {cell.mode} "
            f"{cell.device}")


class _Progress:
    """A rich progress bar on a terminal (current cell, elapsed, ETA); one line per cell otherwise."""

    def __init__(self, total: int, label_of: dict[str, str], enabled: bool):
        from rich.console import Console

        self._label_of = label_of
        self._console = Console(stderr=True)
        self._enabled = enabled
        self._bar = None
        self._t0 = time.monotonic()
        if enabled and self._console.is_terminal:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=self._console, transient=False)
            self._task = self._bar.add_task("", total=total)

    def __enter__(self):
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def running(self, cell: Cell | None) -> None:
        if self._bar is not None:
            text = f"running {describe(cell, self._label_of[cell.key])}" if cell else "done"
            self._bar.update(self._task, description=text)

    def finished(self, row: dict, next_cell: Cell | None) -> None:
        if not self._enabled:
            return
        line = _finished_line(row)
        if self._bar is not None:
            self._bar.console.print(line, highlight=False, markup=False)
            self._bar.advance(self._task)
            self.running(next_cell)
        else:
            print(f"[{time.monotonic() - self._t0:7.1f}s] {line}", file=sys.stderr, flush=True)


def _finished_line(row: dict) -> str:
    parts = [f"{row.get('status', '?'):<14}", f"{row['label']} {row.get('resolution_h')}x"
             f"{row.get('resolution_w')} b{row.get('batch')} {row.get('dtype')} {row.get('mode')} "
             f"{row.get('device')}"]
    if row.get("gmacs") is not None:
        parts.append(f"{row['gmacs']:.3f} GMACs")
    if row.get("latency_ms_median") is not None:
        parts.append(f"{row['latency_ms_median']:.2f} ms")
    if row.get("status") not in DONE_STATUSES and row.get("message"):
        parts.append(str(row["message"]).splitlines()[0][:120])
    return "  ".join(parts)
