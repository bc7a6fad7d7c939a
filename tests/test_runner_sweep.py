"""The sweep's bookkeeping (streaming rows, resume, Ctrl-C, executors) with a stand-in for the
measurement core, so these tests take milliseconds; test_runner_cli.py runs the real thing."""
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pacabench.cli import app
from pacabench.measure.schema import ROW_COLUMNS
from pacabench.runner import executor as executor_module
from pacabench.runner.executor import Executor, ExecutorError, LocalExecutor, make_executor
from pacabench.runner.suite import parse_suite
from pacabench.runner.sweep import RESULT_COLUMNS
from stand_in_cells import SUITE, Counting, read_rows, sweep


def test_results_folder_has_every_file_and_column(tmp_path):
    summary = sweep(tmp_path, Counting())
    rows = read_rows(tmp_path)
    assert list(rows[0]) == list(RESULT_COLUMNS) == [*ROW_COLUMNS, "label"]
    assert [(r["label"], r["resolution_h"], r["status"]) for r in rows] == [
        ("op:paca", "64", "ok"), ("op:paca", "128", "ok"), ("global", "64", "ok"), ("global", "128", "ok")]
    assert rows[0]["uncounted_ops"] == '["aten::softmax"]' and rows[0]["message"] == ""
    assert summary.total == 4 and summary.statuses == {"ok": 4} and not summary.interrupted
    parquet = pd.read_parquet(tmp_path / "results.parquet")
    assert list(parquet["gmacs"]) == [0.064, 0.128, 0.064, 0.128]
    assert parse_suite((tmp_path / "suite.yaml").read_text()).name == "tiny"
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["suite"] == "tiny" and env["command"] == "pacabench run tiny.yaml" and "time" in env


def test_resume_runs_only_cells_not_done(tmp_path):
    first = Counting(status=lambda cell: "error" if cell.name == "vit" and cell.height == 128 else "ok")
    sweep(tmp_path, first)
    assert len(first.ran) == 4
    second = Counting()
    summary = sweep(tmp_path, second, resume=True)
    # the error cell runs again; ok cells are not measured twice
    assert second.ran == [first.ran[3]]
    assert summary.skipped_done == 3
    rows = read_rows(tmp_path)
    assert sorted(r["status"] for r in rows) == ["ok"] * 4 and len({r["cell_key"] for r in rows}) == 4
    assert len(json.loads((tmp_path / "env.json").read_text())["resumed"]) == 1
    third = Counting()
    sweep(tmp_path, third, resume=True)
    assert third.ran == []


def test_ctrl_c_keeps_finished_rows_and_resume_finishes(tmp_path):
    summary = sweep(tmp_path, Counting(interrupt_after=3))
    assert summary.interrupted
    assert len(read_rows(tmp_path)) == 3 and len(pd.read_parquet(tmp_path / "results.parquet")) == 3
    rest = Counting()
    sweep(tmp_path, rest, resume=True)
    assert len(rest.ran) == 1 and len(read_rows(tmp_path)) == 4


def test_cli_exits_130_on_ctrl_c(tmp_path, monkeypatch):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    monkeypatch.setattr(executor_module, "make_executor",
                        lambda name: LocalExecutor(run=Counting(interrupt_after=1)))
    result = CliRunner().invoke(app, ["run", str(suite), "--out", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 130
    assert f"continue with pacabench run --resume {tmp_path / 'r'}" in result.stderr
    assert len(read_rows(tmp_path / "r")) == 1


def test_cli_refuses_to_overwrite_a_run_and_unknown_executor(tmp_path):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.csv").write_text("cell_key\n")
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "already holds results; continue it with --resume" in result.stderr
    result = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "s"), "--executor", "slurm"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --executor: unknown executor 'slurm'; choose one of: local, ray"
    result = runner.invoke(app, ["run", "no_such_suite"])
    assert result.exit_code == 2 and "shipped suites: ci_smoke, clusters_ablation" in result.stderr


def test_executor_registry():
    assert isinstance(make_executor("local"), Executor)
    with pytest.raises(ExecutorError, match="unknown executor 'ray2'; choose one of: local, ray"):
        make_executor("ray2")


class Hinted(Counting):
    """Also records the time hint each cell arrives with. A step takes height / 2 ms per GMAC (so each
    size has its own rate); the 256 px cells time out."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hints = []

    def __call__(self, cell):
        row = super().__call__(cell)
        self.hints.append((cell.name, cell.height, cell.time_hint))
        row.update(latency_ms_median=cell.height * 0.5 * row["gmacs"], device_name="cpu-x",
                   status="ok" if cell.height != 256 else "timeout")
        return row


def test_each_cell_gets_the_hint_of_its_series_so_far(tmp_path):
    from pacabench.measure import budget

    text = ("name: hints\ntargets:\n  - operator: paca\n  - operator: vit\n"
            "resolutions: [64, 128, 192, 256, 320]\nbudget: {seconds: 10}\n")
    run = Hinted()
    sweep(tmp_path, run, text=text)
    seen = {(name, h): hint for name, h, hint in run.hints}

    def observed(h):  # what the h px row measured: 0.5 * h ms per GMAC of h / 1000 GMACs
        return budget.Observed(h / 1000, h * 0.5 * (h / 1000) / 1e3, f"{h} px", "cpu-x")
    # series do not share hints; the first cell of each has none (it is always timed); the 256 px
    # cell timed out, so the 320 px one is told so
    for name in ("paca", "vit"):
        assert seen[name, 64] is None
        assert [seen[name, h] for h in (128, 192, 256)] == [
            budget.series_hint([observed(s) for s in (64, 128, 192)[:i]]) for i in (1, 2, 3)]
        assert seen[name, 320].timed_out
    # resumed: the timed-out cells rerun, hinted by the rows of their series in results.csv
    again = Hinted()
    sweep(tmp_path, again, resume=True, text=text)
    assert [(name, h) for name, h, _ in again.hints] == [("paca", 256), ("vit", 256)]
    assert again.hints[0][2] == budget.series_hint([observed(s) for s in (64, 128, 192, 320)])


class Timed(Counting):
    """Times every cell: pass p of a cell takes (10 * p) ms, except pass 2, a burst of load (1000 ms)."""

    def __call__(self, cell):
        row = super().__call__(cell)
        row.update(latency_ms_median=1000.0 if cell.timing_pass == 2 else 10.0 * cell.timing_pass,
                   latency_ms_p10=1.0, latency_ms_p90=2000.0, latency_samples=3, tokens=cell.height,
                   load_avg_1m=float(cell.timing_pass), matmul_gflops_before=100.0 / cell.timing_pass,
                   matmul_gflops_after=50.0)
        self.ran[-1] = (cell.key, cell.timing_pass)
        return row


PASSES = SUITE.replace("metrics: [flops, params]\n", "passes: 3\n")


def test_passes_time_every_cell_again_after_the_whole_previous_pass_and_keep_the_median(tmp_path):
    run = Timed()
    sweep(tmp_path, run, text=PASSES)
    keys = [key for key, number in run.ran if number == 1]
    # pass after pass: all four cells, then all four again, then again
    assert [number for _, number in run.ran] == [1] * 4 + [2] * 4 + [3] * 4
    assert [key for key, number in run.ran if number == 3] == keys
    rows = read_rows(tmp_path)
    assert [r["latency_ms_median"] for r in rows] == ["30.0"] * 4  # median of 10, 1000, 30: the burst is gone
    assert {r["latency_passes_ms"] for r in rows} == {"[10.0, 1000.0, 30.0]"}
    assert {(r["latency_samples"], r["latency_ms_p10"], r["load_avg_1m"], r["matmul_gflops_before"])
            for r in rows} == {("9", "1.0", "3.0", "33.333333333333336")}
    assert {r["throughput_img_s"] for r in rows} == {str(1e3 / 30.0)}
    passes = pd.read_csv(tmp_path / "passes.csv")
    assert sorted(passes.groupby("cell_key")["pass"].apply(list)) == [[1, 2, 3]] * 4
    assert pd.read_parquet(tmp_path / "results.parquet")["latency_ms_median"].tolist() == [30.0] * 4


def test_a_resumed_sweep_times_only_the_missing_passes(tmp_path):
    sweep(tmp_path, Timed(interrupt_after=6), text=PASSES)  # pass 1 whole, two cells of pass 2
    rows = read_rows(tmp_path)
    assert {r["latency_passes_ms"] for r in rows[:2]} == {"[10.0, 1000.0]"}  # merged as far as measured
    assert {r["latency_passes_ms"] for r in rows[2:]} == {"[10.0]"}
    rest = Timed()
    sweep(tmp_path, rest, resume=True, text=PASSES)
    assert [number for _, number in rest.ran] == [2, 2, 3, 3, 3, 3]
    assert {r["latency_passes_ms"] for r in read_rows(tmp_path)} == {"[10.0, 1000.0, 30.0]"}


def test_one_pass_writes_no_passes_file(tmp_path):
    sweep(tmp_path, Timed(), text=SUITE.replace("metrics: [flops, params]\n", ""))
    assert not (tmp_path / "passes.csv").exists()
    assert {r["latency_passes_ms"] for r in read_rows(tmp_path)} == {""}  # the cell's own list, none here


class Threaded(Counting):
    """Records the threads each cell (and each pass) arrives with, and writes them to its row."""

    def __call__(self, cell):
        row = super().__call__(cell)
        row.update(latency_ms_median=10.0, tokens=cell.height, cpu_threads=cell.threads)
        self.ran[-1] = (cell.timing_pass, cell.threads)
        return row


def test_every_cpu_cell_times_with_the_cores_left_idle_at_the_start_and_a_resume_keeps_them(tmp_path, monkeypatch):
    from pacabench.measure.load import CpuThreads
    from pacabench.runner import sweep as sweep_module

    asked = []
    monkeypatch.setattr(sweep_module, "free_cores", lambda: asked.append(1) or CpuThreads(1, "0.9 of 2 CPUs idle"))
    run = Threaded(interrupt_after=6)
    sweep(tmp_path, run, text=PASSES)  # pass 1, then two cells of pass 2
    assert asked == [1] and run.ran == [(1, 1)] * 4 + [(2, 1)] * 2
    env = json.loads((tmp_path / "env.json").read_text())
    assert (env["cpu_threads"], env["cpu_threads_why"]) == (1, "0.9 of 2 CPUs idle")
    assert {r["cpu_threads"] for r in read_rows(tmp_path)} == {"1"}
    # resumed on a machine that is now idle: the missing passes time as the cells before them did
    monkeypatch.setattr(sweep_module, "free_cores", lambda: CpuThreads(2, "2.0 of 2 CPUs idle"))
    rest = Threaded()
    sweep(tmp_path, rest, resume=True, text=PASSES)
    assert rest.ran == [(2, 1)] * 2 + [(3, 1)] * 4
    resumed = json.loads((tmp_path / "env.json").read_text())["resumed"][0]
    assert (resumed["cpu_threads"], resumed["cpu_threads_why"]) == (1, "as the cells timed before this resume")


def test_a_suite_may_fix_the_threads_and_an_untimed_suite_never_measures_the_load(tmp_path, monkeypatch):
    from pacabench.runner import sweep as sweep_module

    monkeypatch.setattr(sweep_module, "free_cores", lambda: pytest.fail("the load was measured"))
    run = Threaded()
    sweep(tmp_path / "fixed", run, text=PASSES + "threads: 3\n")
    assert set(run.ran) == {(1, 3), (2, 3), (3, 3)}
    assert json.loads((tmp_path / "fixed" / "env.json").read_text())["cpu_threads_why"] == "the suite's `threads`"
    untimed = Threaded()
    sweep(tmp_path / "counts", untimed)  # metrics: [flops, params]
    assert set(untimed.ran) == {(1, None)}
    assert "cpu_threads" not in json.loads((tmp_path / "counts" / "env.json").read_text())
