"""Real processes (issue #14): a run stopped by SIGTERM or kill -9 leaves whole rows and no cell
process behind, and its resume finishes exactly; a second run of the folder is refused while the
first holds it. The CLI runs for real (tests/stand_in_cli.py), each cell in its own child process,
with cells that measure nothing; the 64 px cell hangs until it is killed."""
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pacabench.cli import app
from pacabench.runner import executor as executor_module
from stand_in_cells import HANG_AT, PID_FILE, read_rows

TESTS = Path(__file__).parent
SUITE = ("name: hang\ntargets:\n  - operator: paca\nresolutions: [32, 64, 96]\nmetrics: [flops, params]\n"
         "devices: [cpu]\ntimeout_s: 300\n")


def wait_for(condition, what: str, process=None, deadline_s: float = 120) -> None:
    """Poll ``condition`` until it holds; fail after ``deadline_s`` or if ``process`` ends first."""
    end = time.monotonic() + deadline_s
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run ended (code {process.returncode}) before {what}: "
                                 f"{process.stderr.read()}")
        assert time.monotonic() < end, f"no {what} within {deadline_s} s"
        time.sleep(0.1)


def ended(pid: int) -> bool:
    """The process is gone, or a zombie nobody has reaped yet (it runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _terminal_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def hanging_run(tmp_path):
    """``pacabench run`` of SUITE in a subprocess, handed over once the 32 px row is written and the
    64 px cell hangs: (process, results folder, the hanging cell's pid, the suite file). Whatever
    the test leaves running is killed afterwards."""
    suite, out, pid_file = tmp_path / "hang.yaml", tmp_path / "out", tmp_path / "cell.pid"
    suite.write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": str(TESTS), HANG_AT: "64", PID_FILE: str(pid_file)}
    process = subprocess.Popen(
        [sys.executable, str(TESTS / "stand_in_cli.py"), "run", str(suite), "--out", str(out),
         "--executor", "stand_in", "--no-report"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        # its own process group and Ctrl-C's default action, as a command typed in a terminal has
        # (a shell without job control starts background commands, this pytest too, ignoring SIGINT)
        start_new_session=True, preexec_fn=_terminal_signals)
    try:
        wait_for(pid_file.exists, "hanging cell", process)
        assert len(read_rows(out)) == 1
        yield process, out, int(pid_file.read_text()), suite
    finally:
        process.kill()
        if pid_file.exists():
            with suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
        process.wait()


def resume_to_the_end(out, monkeypatch) -> None:
    """Resume in this process (no cell hangs here) and check every cell has exactly one row."""
    monkeypatch.setitem(executor_module.EXECUTORS, "stand_in", "stand_in_cells:StandInExecutor")
    result = CliRunner().invoke(app, ["run", "--resume", str(out), "--executor", "stand_in", "--no-report"])
    assert result.exit_code == 0, result.output
    assert "3 cells (2 ok; 1 already done)" in result.stdout
    rows = read_rows(out)
    assert [r["resolution_h"] for r in rows] == ["32", "64", "96"] and len({r["cell_key"] for r in rows}) == 3


def test_sigterm_stops_like_ctrl_c_and_a_second_writer_is_refused(tmp_path, monkeypatch):
    with hanging_run(tmp_path) as (process, out, cell_pid, suite):
        written = (out / "results.csv").read_bytes()
        # The probe: a resume started while the run writes the folder. It used to replace
        # results.csv while the run went on appending to the unlinked file.
        refused = CliRunner().invoke(app, ["run", "--resume", str(out)])
        assert refused.exit_code == 2
        assert refused.stderr.startswith(f"error: --resume: {out} is being written by another pacabench run "
                                         f"(pid {process.pid} on {socket.gethostname()}, since ")
        assert refused.stderr.endswith(f": pacabench run {suite} --out {out} --executor stand_in "
                                       "--no-report); wait for it to end, or stop it, then resume\n")
        assert (out / "results.csv").read_bytes() == written

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 143
        assert stderr.endswith(f"terminated: rows so far are in {out}; "
                               f"continue with pacabench run --resume {out}\n")
        assert "Traceback" not in stderr
        assert (out / "results.csv").read_bytes() == written
        assert len(pd.read_parquet(out / "results.parquet")) == 1
        wait_for(lambda: ended(cell_pid), "end of the cell's process", deadline_s=30)
    resume_to_the_end(out, monkeypatch)


def test_ctrl_c_reaching_every_process_of_the_run_stops_it_cleanly(tmp_path, monkeypatch):
    """Ctrl-C on a terminal signals the whole process group, the cell's process included: the run
    stops as on a Ctrl-C to it alone, and the cell (which ignores SIGINT) prints nothing."""
    with hanging_run(tmp_path) as (process, out, cell_pid, _):
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 130
        assert stderr.endswith(f"interrupted: rows so far are in {out}; "
                               f"continue with pacabench run --resume {out}\n")
        assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
        wait_for(lambda: ended(cell_pid), "end of the cell's process", deadline_s=30)
    resume_to_the_end(out, monkeypatch)


def test_kill_9_leaves_whole_rows_and_no_cell_process(tmp_path, monkeypatch):
    with hanging_run(tmp_path) as (process, out, cell_pid, _):
        process.kill()
        process.wait(timeout=60)
        # the cell would otherwise hang on for its 300 s limit, unsupervised
        wait_for(lambda: ended(cell_pid), "end of the cell's process after its sweep's", deadline_s=30)
        assert len(read_rows(out)) == 1
    resume_to_the_end(out, monkeypatch)
