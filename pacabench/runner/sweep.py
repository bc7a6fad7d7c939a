"""Run a suite's cells through an executor and keep every result on disk as soon as it exists.

The results folder (``results/<YYYYmmdd-HHMMSS>_<suite>/`` or ``--out``) holds:

* ``results.csv``: one row per cell (``ROW_COLUMNS`` then ``label``), appended, flushed and synced
  to disk the moment the cell finishes, so an interrupted or crashed run keeps everything it measured;
* ``results.parquet``: the same table, rewritten at the end (also after Ctrl-C or SIGTERM);
* ``env.json``: the environment capture of the measurement core, plus suite file, time, command;
* ``suite.yaml``: the suite as run (analysis reads ``name`` and ``expectations`` from it);
* ``.pacabench.lock``: the lock that makes the running sweep the folder's only writer
  (:mod:`pacabench.runner.lock`); a second run or resume of the folder is refused, naming the holder;
* ``results.set-aside.csv``, only after a resume that found rows of cells not in its suite.

Every file but results.csv is replaced atomically (:mod:`pacabench.runner.atomic`): a crash or a
full disk leaves the previous complete file. Any OS error on the folder is a :class:`SweepError`.

Resume: the rows of results.csv that are complete, well-formed and finished are kept; every other
cell is measured again (:mod:`pacabench.runner.resume` says exactly which rows are kept). A corrupt
env.json is captured again, and results.parquet is always rewritten from results.csv.

Stopping: Ctrl-C (SIGINT) and SIGTERM stop the sweep the same way: the running cell's process is
killed (it cannot outlive the sweep in any case: :func:`pacabench.measure.cell.run_isolated`), the
rows so far stay, results.parquet is written, and the summary says which signal stopped it.

Time budgets: each cell is handed, when the executor asks for it, a ``time_hint`` to predict its time
with (:mod:`pacabench.measure.budget`): the seconds per GMAC measured in the cells of its series done
so far (also those of a resumed run); the first cell of a series has none and is always timed. An
executor that takes all cells at once (Ray) gets no hints.

Threads: every CPU cell of a run times with the same number of threads, the cores other work leaves
idle when the run starts (:func:`pacabench.measure.load.free_cores`; a suite's ``threads`` fixes it,
a resume keeps the earlier cells'), written to each row (``cpu_threads``) and to env.json.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path


from pacabench.measure.budget import Observed, observed, series_hint
from pacabench.measure.cell import Cell
from pacabench.measure.load import CpuThreads, free_cores
from pacabench.measure.schema import ROW_COLUMNS
from pacabench.messages import printable
from pacabench.runner import lock
from pacabench.runner.atomic import PlantedLink, open_no_link, read_json_object, replace_file, replace_text
from pacabench.runner.cells import expand_cells
from pacabench.runner.executor import Executor
from pacabench.runner.passes import PASS_COLUMNS, PASSES_NAME, merged, pass_row, read_passes
from pacabench.runner.resume import DONE_STATUSES, NotAResultsFile, kept_rows
from pacabench.runner.suite import Suite, row_label

RESULT_COLUMNS = (*ROW_COLUMNS, "label")
CSV_NAME, PARQUET_NAME, ENV_NAME, SUITE_NAME = "results.csv", "results.parquet", "env.json", "suite.yaml"
SET_ASIDE_NAME = "results.set-aside.csv"



class SweepError(Exception):
    """A results folder the sweep cannot use or write; the message is one line with the fix."""


class Terminated(BaseException):
    """SIGTERM arrived: the sweep stops as on Ctrl-C. A BaseException, like KeyboardInterrupt, so no
    ``except Exception`` on the way (an executor's) takes it for a failed cell."""


@dataclass
class SweepSummary:
    out_dir: Path
    total: int                       # cells in the suite
    skipped_done: int                # cells already done in a resumed folder
    statuses: Counter = field(default_factory=Counter)  # statuses of the cells run this time
    stopped_by: signal.Signals | None = None  # SIGINT (Ctrl-C) or SIGTERM, if one stopped the sweep
    set_aside: int = 0               # rows of cells not in the suite, moved to SET_ASIDE_NAME

    @property
    def interrupted(self) -> bool:
        return self.stopped_by is not None


def default_run_dir(suite_name: str, root: str | Path = "results") -> Path:
    return Path(root) / f"{dt.datetime.now():%Y%m%d-%H%M%S}_{suite_name}"


def run_sweep(suite: Suite, out_dir: str | Path, executor: Executor, *, resume: bool = False,
              progress: bool = True, command: str | None = None) -> SweepSummary:
    """Measure every cell of ``suite`` into ``out_dir``; return counts. Holds the folder's lock
    throughout (another sweep of it is refused with a SweepError). Ctrl-C or SIGTERM stops the
    sweep: what is done is written and the summary's ``stopped_by`` names the signal."""
    out_dir = Path(out_dir)
    command = command or " ".join(sys.argv)
    with ExitStack() as stack:
        stack.callback(executor.close)
        with _writing(out_dir):
            if out_dir.exists() and not out_dir.is_dir():
                raise SweepError(f"{out_dir} is a file, not a folder; choose a folder for the results")
            out_dir.mkdir(parents=True, exist_ok=True)
            try:
                stack.enter_context(lock.hold(out_dir, command))
            except (lock.FolderInUse, lock.NotALockFile) as exc:
                raise SweepError(str(exc)) from None
        return _sweep(suite, out_dir, executor, resume=resume, progress=progress, command=command)


def _sweep(suite: Suite, out_dir: Path, executor: Executor, *, resume: bool, progress: bool,
           command: str) -> SweepSummary:
    """run_sweep, once the folder is locked."""
    labelled = _unique(expand_cells(suite))
    label_of = {cell.key: label for label, cell in labelled}
    cell_of = {cell.key: cell for _, cell in labelled}
    csv_path = out_dir / CSV_NAME
    with _writing(out_dir):
        if not resume and csv_path.exists():
            raise SweepError(f"{out_dir} already holds results; continue it with --resume {out_dir} "
                             f"or choose another --out")
        try:
            done_rows, others = kept_rows(csv_path, cell_of) if resume else ([], [])
        except NotAResultsFile as exc:
            raise SweepError(str(exc)) from None
        for row in done_rows:
            row["label"] = label_of[row["cell_key"]]
        if others:
            _set_aside(out_dir / SET_ASIDE_NAME, others)
        _replace_rows(csv_path, done_rows)
        replace_text(out_dir / SUITE_NAME, suite.to_yaml())
    threads = _cpu_threads(suite, labelled, done_rows)
    if threads is not None:
        labelled = [(label, replace(cell, threads=threads.threads) if cell.device == "cpu" else cell)
                    for label, cell in labelled]
        cell_of = {cell.key: cell for _, cell in labelled}
    with _writing(out_dir):
        _write_env(out_dir / ENV_NAME, suite, command, resumed=resume, threads=threads)
    done_keys = {row["cell_key"] for row in done_rows}
    todo = [cell for _, cell in labelled if cell.key not in done_keys]
    hints = _TimeHints()
    for row in done_rows:
        hints.observe(cell_of[row["cell_key"]], row)

    summary = SweepSummary(out_dir, total=len(labelled), skipped_done=len(labelled) - len(todo),
                           set_aside=len(others))
    passes_path = out_dir / PASSES_NAME
    timed = read_passes(passes_path) if resume else defaultdict(dict)
    reporter = _Progress(len(todo), label_of, enabled=progress)
    if threads is not None and todo:
        reporter.note(f"timing on CPU with {threads.describe()}")
    resume_hint = f"the rows written so far are kept: make room, then pacabench run --resume {out_dir}"
    try:
        with ExitStack() as files, reporter, _sigterm_stops():
            f = files.enter_context(_appended(csv_path, after=resume_hint))
            writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
            record_pass = None
            if suite.passes > 1:
                passes_file = files.enter_context(_appended(passes_path, after=resume_hint, header=PASS_COLUMNS))
                pass_writer = csv.DictWriter(passes_file, fieldnames=PASS_COLUMNS)

                def record_pass(row: dict, number: int) -> None:
                    timing = pass_row(row, number)
                    if timing is not None:
                        timed[timing["cell_key"]][number] = timing
                        _write(pass_writer, passes_file, timing, passes_path, resume_hint)
            pending = {cell.key: cell for cell in todo}
            reporter.running(next(iter(pending.values()), None))
            for row in executor.map(hints.feed(todo)):
                row = {**row, "label": label_of.get(row.get("cell_key")) or row_label(row)}
                _write(writer, f, row, csv_path, resume_hint)
                if record_pass is not None:
                    record_pass(row, 1)
                hints.observe(pending.pop(row.get("cell_key"), None), row)
                summary.statuses[row.get("status")] += 1
                reporter.finished(row, next(iter(pending.values()), None))
            for number in range(2, suite.passes + 1):
                again = [replace(cell, timing_pass=number) for cell in cell_of.values()
                         if 1 in timed.get(cell.key, {}) and number not in timed[cell.key]]
                reporter.more(again, f"pass {number}")
                for row in executor.map(again):
                    record_pass(row, number)
                    reporter.finished({**row, "label": label_of.get(row.get("cell_key"), "?"),
                                       "status": f"pass {number} {row.get('status')}"}, None)
    except KeyboardInterrupt:
        summary.stopped_by = signal.SIGINT
    except Terminated:
        summary.stopped_by = signal.SIGTERM
    if suite.passes > 1:
        with _writing(csv_path, after=f"passes.csv keeps every pass; merge them with pacabench run --resume {out_dir}"):
            _replace_rows(csv_path, [merged(row, timed.get(row.get("cell_key"), {})) for row in _read_rows(csv_path)])
    with _writing(out_dir / PARQUET_NAME, after=f"results.csv holds every row; retry with "
                                                 f"pacabench run --resume {out_dir}"):
        write_parquet(out_dir)
    return summary


def _read_rows(path: Path) -> list[dict]:
    """The whole rows of results.csv (a last line cut short by a crash left out), as text."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return list(csv.DictReader(io.StringIO(text[:text.rfind("\n") + 1], newline="")))


def _write(writer: csv.DictWriter, f, row: dict, path: Path, after: str) -> None:
    """Append one row to ``path`` and sync it to disk, so a crash after this keeps it."""
    with _writing(path, after=after):
        writer.writerow(_csv_values(row))
        f.flush()
        os.fsync(f.fileno())


def write_parquet(out_dir: Path) -> Path:
    """Rewrite results.parquet from results.csv so the two always hold the same rows."""
    import pandas as pd

    df = pd.read_csv(out_dir / CSV_NAME, keep_default_na=True)
    path = out_dir / PARQUET_NAME
    replace_file(path, lambda tmp: df.to_parquet(tmp, index=False))
    return path


@contextmanager
def _writing(path: Path, after: str = "choose a folder you can write to") -> Iterator[None]:
    """An OS error in the block (read-only, full disk, a file where a folder should be) becomes a
    one-line SweepError naming the path, with ``after`` as the fix."""
    try:
        yield
    except PlantedLink as exc:
        raise SweepError(str(exc)) from None
    except OSError as exc:
        raise SweepError(f"cannot write {path}: {exc.strerror or exc}; {after}") from None


@contextmanager
def _appended(path: Path, after: str, header: Sequence[str] | None = None) -> Iterator:
    """``path`` open for appending rows (UTF-8, as resume reads it back), starting with ``header``
    when it is new. Closing flushes what a failed write left in the buffer, and fails the same way:
    that is one error too."""
    with _writing(path, after=after):
        new = header is not None and not path.exists()
        f = open(open_no_link(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a", newline="", encoding="utf-8")
        if new:
            csv.writer(f).writerow(header)
    try:
        yield f
    finally:
        with _writing(path, after=after):
            f.close()


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated (as SIGINT raises KeyboardInterrupt).
    Signal handlers can only be set from the main thread; elsewhere SIGTERM keeps its handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cpu_threads(suite: Suite, labelled: list[tuple[str, Cell]], done_rows: list[dict]) -> CpuThreads | None:
    """The threads every CPU cell of the run times with (None: no CPU cell is timed): the suite's number, else
    those of a resumed run's timed rows (a series keeps one thread count), else the cores other work
    leaves idle now."""
    if not any(cell.device == "cpu" and "latency" in cell.metrics for _, cell in labelled):
        return None
    if suite.threads != "auto":
        return CpuThreads(suite.threads, "the suite's `threads`")
    earlier = Counter(int(float(row["cpu_threads"])) for row in done_rows
                      if row.get("device") == "cpu" and row.get("cpu_threads") not in (None, ""))
    if earlier:
        return CpuThreads(earlier.most_common(1)[0][0], "as the cells timed before this resume")
    return free_cores()


def _unique(labelled: list[tuple[str, Cell]]) -> list[tuple[str, Cell]]:
    """Drop repeated cells (two entries asking for the same measurement); the first label wins."""
    seen: dict[str, tuple[str, Cell]] = {}
    for label, cell in labelled:
        seen.setdefault(cell.key, (label, cell))
    return list(seen.values())


def _series(cell: Cell) -> tuple:
    """Cells whose seconds per GMAC predict each other's: one target at growing sizes."""
    return (cell.kind, cell.name, cell.params_json, cell.batch, cell.dtype, cell.mode, cell.device,
            cell.channels_last, cell.compile)


class _TimeHints:
    """What the sweep has learnt about predicting cell times, handed to each cell as it is taken."""

    def __init__(self):
        self._observed: dict[tuple, list[Observed]] = defaultdict(list)

    def observe(self, cell: Cell | None, row: dict) -> None:
        seen = observed(row) if cell is not None else None
        if seen is not None:
            self._observed[_series(cell)].append(seen)

    def feed(self, cells: Iterable[Cell]) -> Iterator[Cell]:
        """``cells`` with their hints filled from the rows observed by the time each is taken (none
        for the first cell of a series: it is always timed)."""
        for cell in cells:
            hint = series_hint(self._observed[_series(cell)]) if cell.budget_seconds is not None else None
            yield cell if hint is None else replace(cell, time_hint=hint)


def _replace_rows(path: Path, rows: Sequence[dict], columns: Sequence[str] = RESULT_COLUMNS) -> None:
    """Make ``path`` a CSV of ``rows`` under ``columns`` (missing values empty, others dropped)."""
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    replace_file(path, write)


def _set_aside(path: Path, rows: list[dict]) -> None:
    """Add ``rows`` to the set-aside file, keeping every column they have."""
    earlier = []
    if path.exists():
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            earlier = list(csv.DictReader(f))
    both = earlier + rows
    _replace_rows(path, both, columns=list(dict.fromkeys(c for row in both for c in row if c)))


def _csv_values(row: dict) -> dict:
    """Lists and dicts as JSON, None as an empty cell, everything else as written by csv."""
    return {k: json.dumps(v) if isinstance(v, (list, tuple, dict)) else ("" if v is None else v)
            for k, v in row.items()}


def _write_env(path: Path, suite: Suite, command: str, resumed: bool, threads: CpuThreads | None) -> None:
    """A fresh env.json, or on resume the earlier one with this invocation added; an earlier one
    that cannot be read back is captured again, saying so. Each invocation says which CPU threads
    its cells timed with, and why."""
    from pacabench.measure.env import capture_env

    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    invocation = {"time": now, "command": command}
    if threads is not None:
        invocation.update(cpu_threads=threads.threads, cpu_threads_why=threads.why)
    env = _read_env(path) if resumed else None
    if env is not None:
        env.setdefault("resumed", []).append(invocation)
    else:
        env = {**capture_env(), "suite": suite.name, "suite_file": suite.source, **invocation}
        if resumed:
            env["rebuilt"] = "env.json was missing or unreadable when this run was resumed; captured then"
    replace_text(path, json.dumps(env, indent=2, default=str) + "\n")


def _read_env(path: Path) -> dict | None:
    try:
        env = read_json_object(path)
    except (OSError, ValueError, PlantedLink):  # missing, unreadable, too large, not a JSON object, a link
        return None
    return env if isinstance(env.get("resumed", []), list) else None


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

    def note(self, text: str) -> None:
        """A line about the whole run, before its cells."""
        if self._enabled:
            self._console.print(printable(text), highlight=False, markup=False)  # the bar's console too

    def more(self, cells: Sequence[Cell], what: str) -> None:
        """``cells`` more to run (a later timing pass), shown as ``what``."""
        if self._bar is not None and cells:
            self._bar.update(self._task, total=self._bar.tasks[0].total + len(cells), description=f"{what}: timing again")

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
    return printable("  ".join(parts))  # a resumed folder's suite.yaml gives the labels
