"""A stand-in for the measurement core, for tests of the sweep's bookkeeping: rows without torch
work, so a cell takes milliseconds. In this process (``Counting``) it records which cells ran; in
a child process (``measure``) a cell can also be told to hang until it is killed, for tests of what
a killed or stopped run leaves behind.

``stand_in_cli.py`` runs the real CLI with these cells, each in its own real child process.
"""
import csv
import os
import time
from functools import partial

from pacabench.measure.cell import run_isolated
from pacabench.measure.schema import ROW_COLUMNS
from pacabench.runner.executor import LocalExecutor
from pacabench.runner.suite import parse_suite
from pacabench.runner.sweep import run_sweep

# Two targets at two sizes: four cells (on the CPU, so rows are the same text on any machine).
SUITE = ("name: tiny\ntargets:\n  - operator: paca\n  - {operator: vit, label: global}\n"
         "resolutions: [64, 128]\nmetrics: [flops, params]\ndevices: [cpu]\n")

HANG_AT = "PACABENCH_TEST_HANG_AT"    # cells of this height (pixels) hang ...
PID_FILE = "PACABENCH_TEST_PID_FILE"  # ... once they have written their process id to this file


def stand_in_row(cell, status="ok") -> dict:
    """A complete row for ``cell``: GMACs are height / 1000, so rows tell their cells apart."""
    row = dict.fromkeys(ROW_COLUMNS)
    row.update(cell_key=cell.key, kind=cell.kind, name=cell.name, params_json=cell.params_json,
               resolution_h=cell.height, resolution_w=cell.width, batch=cell.batch, dtype=cell.dtype,
               device=cell.device, mode=cell.mode, channels_last=cell.channels_last,
               compile=cell.compile, status=status, gmacs=cell.height / 1000,
               uncounted_ops=["aten::softmax"])
    return row


class Counting:
    """Measures in this process; records which cells ran; ``status`` picks a row status per cell;
    raises KeyboardInterrupt instead of measuring the cell after ``interrupt_after`` cells."""

    def __init__(self, status=lambda cell: "ok", interrupt_after=None):
        self.ran, self._status, self._interrupt_after = [], status, interrupt_after

    def __call__(self, cell):
        if self._interrupt_after is not None and len(self.ran) == self._interrupt_after:
            raise KeyboardInterrupt
        self.ran.append(cell.key)
        return stand_in_row(cell, self._status(cell))


def sweep(out, run, resume=False, text=SUITE):
    """run_sweep of the suite ``text`` into ``out``, measured by ``run`` in this process."""
    return run_sweep(parse_suite(text), out, LocalExecutor(run=run), resume=resume, progress=False,
                     command="pacabench run tiny.yaml")


def read_rows(out):
    with (out / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def measure(cell, on_progress=None) -> dict:
    """The child's measurement: a stand-in row at once, or a hang (see HANG_AT)."""
    if str(cell.height) == os.environ.get(HANG_AT):
        pid_file = os.environ[PID_FILE]
        with open(pid_file + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(pid_file + ".tmp", pid_file)  # the test never reads half a number
        while True:
            time.sleep(3600)
    return stand_in_row(cell)


class StandInExecutor(LocalExecutor):
    """The local executor (each cell in its own child process, with its time limit), measuring with
    the stand-in."""

    def __init__(self):
        super().__init__(run=partial(run_isolated, measure=measure))
