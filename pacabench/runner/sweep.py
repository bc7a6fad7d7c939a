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
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pacabench.measure.cell import ROW_COLUMNS, Cell
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
              device: str | None = None, progress: bool = True, command: str | None = None) -> SweepSummary:
    """Measure every cell of ``suite`` into ``out_dir``; return counts. Ctrl-C stops after the
    current cell, writes what is done and returns with ``interrupted=True``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labelled = _unique(expand_cells(suite, device=device))
    label_of = {cell.key: label for label, cell in labelled}
    done_keys = _keep_done_rows(out_dir / CSV_NAME) if resume else set()
    if not resume:
        _write_rows(out_dir / CSV_NAME, [], mode="w")
    todo = [cell for _, cell in labelled if cell.key not in done_keys]
    (out_dir / SUITE_NAME).write_text(suite.to_yaml())
    _write_env(out_dir / ENV_NAME, suite, command, resumed=resume)

    summary = SweepSummary(out_dir, total=len(labelled), skipped_done=len(labelled) - len(todo))
    reporter = _Progress(len(todo), label_of, enabled=progress)
    try:
        with reporter, (out_dir / CSV_NAME).open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
            pending = {cell.key: cell for cell in todo}
            reporter.running(next(iter(pending.values()), None))
            for row in executor.map(todo):
                row = {**row, "label": label_of.get(row.get("cell_key")) or row_label(row)}
                writer.writerow(_csv_values(row))
                f.flush()
                pending.pop(row.get("cell_key"), None)
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


def _keep_done_rows(path: Path) -> set[str]:
    """Keep only finished rows of an earlier run in ``path``; return their cell keys."""
    if not path.exists():
        _write_rows(path, [], mode="w")
        return set()
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("status") in DONE_STATUSES]
    _write_rows(path, rows, mode="w")
    return {r["cell_key"] for r in rows}


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
