"""What a results folder guarantees (issue #14): one writer, whole rows only, an exact resume, side
files rebuilt, and every OS error on the folder one line. The measurement is the in-process stand-in,
so each sweep takes milliseconds; test_runner_processes.py kills real processes."""
import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pacabench.cli import app
from pacabench.runner import executor as executor_module
from pacabench.runner import lock
from pacabench.runner.executor import LocalExecutor
from pacabench.runner.sweep import SweepError
from stand_in_cells import SUITE, Counting, read_rows, stand_in_row, sweep

TESTS = Path(__file__).parent


@pytest.fixture
def done(tmp_path):
    """A finished run of the four-cell suite; returns (folder, the cell keys in order)."""
    first = Counting()
    sweep(tmp_path, first)
    return tmp_path, first.ran


def csv_text(folder) -> str:
    """results.csv as written, line ends (\r\n) included."""
    return (folder / "results.csv").read_bytes().decode("utf-8")


def write_csv(folder, text: str, encoding="utf-8") -> None:
    (folder / "results.csv").write_bytes(text.encode(encoding))


def test_a_row_cut_anywhere_is_measured_again_and_nothing_else(done):
    """Wherever a crash cuts the last row (after its status field included: the cut used to keep a
    row with GMACs 0.0 and a label 'op:s'), resume measures that cell again, and only it."""
    folder, keys = done
    whole = csv_text(folder)
    start = whole.rstrip("\r\n").rfind("\n") + 1  # the last row
    commas = [start + i for i, c in enumerate(whole[start:]) if c == ","]
    cuts = sorted({start + 1, *commas, *(c + 1 for c in commas), *(c + 3 for c in commas),
                   len(whole) - 2, len(whole) - 1})
    for cut in cuts:
        write_csv(folder, whole[:cut])
        again = Counting()
        sweep(folder, again, resume=True)
        assert again.ran == [keys[-1]], cut
        assert csv_text(folder) == whole, cut


@pytest.mark.parametrize("garble", [
    lambda line: line.replace(",ok,", ",ok\xff,"),              # not UTF-8 (written as latin-1 below)
    lambda line: line.replace(",0.128,", ",0.1x28,"),           # gmacs not a number
    lambda line: line.replace(",128,128,", ",128,96,"),         # not the cell its key names
    lambda line: line.replace(",ok,", ",ok,,"),                 # one field too many
    lambda line: line.replace(",ok,", ",,"),                    # no status
], ids=["not-utf8", "not-a-number", "other-cell", "extra-field", "no-status"])
def test_a_garbled_row_is_measured_again_and_the_others_kept(done, garble):
    folder, keys = done
    lines = csv_text(folder).splitlines(keepends=True)
    lines[2] = garble(lines[2])  # the second row: paca at 128 px
    write_csv(folder, "".join(lines), encoding="latin-1")
    again = Counting()
    summary = sweep(folder, again, resume=True)
    assert again.ran == [keys[1]] and summary.skipped_done == 3
    rows = read_rows(folder)
    assert [r["cell_key"] for r in rows] == [keys[0], keys[2], keys[3], keys[1]]
    assert pd.read_parquet(folder / "results.parquet")["gmacs"].tolist() == [0.064, 0.064, 0.128, 0.128]


def test_a_repeated_row_is_kept_once(done):
    folder, _ = done
    text = csv_text(folder)
    write_csv(folder, text + text.splitlines(keepends=True)[1])
    again = Counting()
    sweep(folder, again, resume=True)
    assert again.ran == [] and csv_text(folder) == text


def test_rows_of_cells_not_in_the_suite_are_set_aside(done, monkeypatch):
    folder, keys = done
    monkeypatch.setattr(executor_module, "make_executor", lambda name: LocalExecutor(run=stand_in_row))
    (folder / "suite.yaml").write_text(SUITE.replace("  - {operator: vit, label: global}\n", ""))
    result = CliRunner().invoke(app, ["run", "--resume", str(folder), "--no-report"])
    assert result.exit_code == 0, result.output
    assert result.stderr.endswith(
        f"note: 2 rows of cells not in this suite were moved to {folder / 'results.set-aside.csv'}\n")
    assert [r["cell_key"] for r in read_rows(folder)] == keys[:2]
    aside = pd.read_csv(folder / "results.set-aside.csv")
    assert aside["cell_key"].tolist() == keys[2:] and aside["label"].tolist() == ["global"] * 2


def test_resume_rebuilds_a_corrupt_env_json_and_parquet(done):
    folder, _ = done
    (folder / "env.json").write_bytes(b'{"torch": "2.\xff')
    (folder / "results.parquet").write_bytes(b"PAR1 not really")
    sweep(folder, Counting(), resume=True)
    env = json.loads((folder / "env.json").read_text())
    assert env["rebuilt"] == "env.json was missing or unreadable when this run was resumed; captured then"
    assert env["suite"] == "tiny" and "torch" in env and "resumed" not in env
    assert len(pd.read_parquet(folder / "results.parquet")) == 4
    sweep(folder, Counting(), resume=True)  # a readable one is added to, not rebuilt
    assert len(json.loads((folder / "env.json").read_text())["resumed"]) == 1


def test_a_file_that_is_not_a_results_csv_is_refused(done, monkeypatch):
    folder, _ = done
    write_csv(folder, "name,score\nx,1\n")
    monkeypatch.setattr(executor_module, "make_executor", lambda name: LocalExecutor(run=stand_in_row))
    result = CliRunner().invoke(app, ["run", "--resume", str(folder)])
    assert (result.exit_code, result.stderr) == (
        2, f"error: --resume: {folder / 'results.csv'}: the first line is not the header of a pacabench "
           "results.csv; move the file away, or start a new run in another folder\n")
    assert csv_text(folder) == "name,score\nx,1\n"


def test_a_second_writer_is_refused_naming_the_holder(done, monkeypatch):
    folder, _ = done
    before = csv_text(folder)
    monkeypatch.setattr(executor_module, "make_executor", lambda name: LocalExecutor(run=stand_in_row))
    with lock.hold(folder, "pacabench run tiny.yaml --out elsewhere"):
        holder = json.loads((folder / ".pacabench.lock").read_text())
        expected = (f"{folder} is being written by another pacabench run (pid {os.getpid()} on "
                    f"{socket.gethostname()}, since {holder['since']}: pacabench run tiny.yaml --out "
                    f"elsewhere); wait for it to end, or stop it, then resume")
        with pytest.raises(SweepError) as refused:
            sweep(folder, Counting(), resume=True)
        assert str(refused.value) == expected
        result = CliRunner().invoke(app, ["run", "--resume", str(folder)])
        assert (result.exit_code, result.stderr) == (2, f"error: --resume: {expected}\n")
        assert csv_text(folder) == before
    again = Counting()
    sweep(folder, again, resume=True)  # released: the kernel drops the lock with its holder
    assert again.ran == []


def read_only(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))
    monkeypatch.setattr(Path, "mkdir", refuse)


@pytest.mark.parametrize("where, setup, problem", [
    ("file", lambda path, mp: path.write_text("x"),
     "{out} is a file, not a folder; choose a folder for the results"),
    ("file/sub", lambda path, mp: path.parent.write_text("x"),
     "cannot write {out}: Not a directory; choose a folder you can write to"),
    ("ro/run", lambda path, mp: read_only(mp),
     "cannot write {out}: Read-only file system; choose a folder you can write to"),
])
def test_every_os_error_on_out_is_one_line(tmp_path, monkeypatch, where, setup, problem):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    out = tmp_path / where
    setup(out, monkeypatch)
    monkeypatch.setattr(executor_module, "make_executor", lambda name: LocalExecutor(run=stand_in_row))
    result = CliRunner().invoke(app, ["run", str(suite), "--out", str(out), "--quiet"])
    assert (result.exit_code, result.stderr) == (2, f"error: --out: {problem.format(out=out)}\n")


def test_a_full_disk_leaves_the_previous_parquet_whole(done, monkeypatch):
    folder, _ = done
    before = (folder / "results.parquet").read_bytes()

    def half_then_full(self, path, **kwargs):
        Path(path).write_bytes(before[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_full)
    monkeypatch.setattr(executor_module, "make_executor", lambda name: LocalExecutor(run=stand_in_row))
    result = CliRunner().invoke(app, ["run", "--resume", str(folder), "--quiet"])
    assert (result.exit_code, result.stderr) == (
        2, f"error: --resume: cannot write {folder / 'results.parquet'}: No space left on device; "
           f"results.csv holds every row; retry with pacabench run --resume {folder}\n")
    assert (folder / "results.parquet").read_bytes() == before
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# A run whose results.csv may not grow beyond LIMIT bytes (the kernel's RLIMIT_FSIZE: writes past it
# fail with EFBIG, like a disk that fills up mid-row).
FULL_DISK_RUN = """
import resource, sys
from pathlib import Path
from pacabench.runner.sweep import SweepError
from stand_in_cells import Counting, sweep
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
try:
    sweep(Path(sys.argv[1]), Counting(), text=sys.argv[3])
except SweepError as error:
    sys.exit(f"error: {error}")
"""


def test_a_disk_full_mid_row_keeps_whole_rows_and_resume_is_exact(tmp_path):
    text = SUITE.replace("[64, 128]", "[" + ", ".join(str(32 * i) for i in range(2, 22)) + "]")
    limit = 4000
    result = subprocess.run([sys.executable, "-c", FULL_DISK_RUN, str(tmp_path), str(limit), text],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(TESTS)})
    assert result.returncode == 1 and result.stderr == (
        f"error: cannot write {tmp_path / 'results.csv'}: File too large; the rows written so far are "
        f"kept: make room, then pacabench run --resume {tmp_path}\n")
    cut = csv_text(tmp_path)
    assert len(cut.encode()) == limit and not cut.endswith("\n")  # the last row was cut mid-way
    whole_rows = cut.count("\n") - 1
    again = Counting()
    sweep(tmp_path, again, resume=True, text=text)
    assert len(again.ran) == 40 - whole_rows
    rows = read_rows(tmp_path)
    assert len(rows) == 40 and len({r["cell_key"] for r in rows}) == 40
    assert csv_text(tmp_path).startswith(cut[:cut.rfind("\n") + 1])
