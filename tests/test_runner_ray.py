"""The Ray executor: same rows as the local executor, failed tasks become error rows, and a clear
exit when Ray is missing. Runs on a private local Ray instance with 2 CPUs started by the test."""
import dataclasses
import sys
from importlib import resources

import pytest
from typer.testing import CliRunner

from pacabench.cli import app
from pacabench.runner.cells import expand_cells
from pacabench.runner.executor import ExecutorError, LocalExecutor, make_executor
from pacabench.runner.suite import load_suite

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

COUNTS_ONLY = ("flops", "params")


def smoke_cells():
    """The smoke suite's cells, counts only (timing two executors against each other proves nothing)."""
    suite = load_suite(resources.files("pacabench.suites") / "ci_smoke.yaml").with_overrides(devices=["cpu"])
    return [dataclasses.replace(cell, metrics=COUNTS_ONLY) for _, cell in expand_cells(suite)]


@pytest.fixture(scope="module")
def ray_executor():
    executor = make_executor("ray", num_cpus=2)
    yield executor
    executor.close()


def fail_on_vit(cell):
    """A task body that raises for one target: the Ray task itself fails, not the measurement."""
    if cell.name == "vit":
        raise RuntimeError("planted failure")
    from pacabench.measure.cell import measure_cell

    return measure_cell(cell)


def test_ray_rows_match_local_rows(ray_executor):
    cells = smoke_cells()
    local = {row["cell_key"]: row for row in LocalExecutor().map(cells)}
    remote = {row["cell_key"]: row for row in ray_executor.map(cells)}
    assert remote.keys() == local.keys() == {cell.key for cell in cells}
    for key, row in local.items():
        assert row["status"] == "ok", row["message"]
        assert (remote[key]["status"], remote[key]["params"], remote[key]["gmacs"]) == (
            "ok", row["params"], row["gmacs"]), key


def test_failed_task_is_an_error_row_and_the_others_finish(ray_executor):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    from pacabench.runner.ray_executor import RayExecutor

    cells = smoke_cells()
    executor = RayExecutor(run=fail_on_vit)  # joins the instance ray_executor started
    try:
        rows = list(executor.map(cells))
    finally:
        executor.close()
    by_status = {}
    for row in rows:
        by_status.setdefault(row["status"], []).append(row)
    failed = [cell for cell in cells if cell.name == "vit"]
    assert len(rows) == len(cells)
    assert sorted(r["cell_key"] for r in by_status["error"]) == sorted(c.key for c in failed)
    assert all("ray task failed: RuntimeError: planted failure" == r["message"] for r in by_status["error"])
    assert len(by_status["ok"]) == len(cells) - len(failed)


def test_missing_ray_gives_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ExecutorError, match=r"pip install -e '\.\[ray\]'"):
        make_executor("ray")
    suite = str(resources.files("pacabench.suites") / "ci_smoke.yaml")
    result = CliRunner().invoke(app, ["run", suite, "--executor", "ray", "--quiet"])
    assert result.exit_code == 2
    assert "pip install -e '.[ray]'" in result.output
    assert "Traceback" not in result.output
