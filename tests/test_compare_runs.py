"""compare: exact counts, timings within tolerance on the same device only, exit codes 0 / 1 / 2."""
import pandas as pd
import pytest
from typer.testing import CliRunner

from pacabench.analysis.compare import compare_runs, update_baseline
from pacabench.cli import app
from synthetic_results import make_rows, write_run


@pytest.fixture()
def baseline(tmp_path):
    return write_run(tmp_path / "baseline", make_rows(seed=1))


def planted(tmp_path, change, name="run"):
    """A copy of the baseline rows with ``change(df)`` applied, written as a run folder."""
    df = make_rows(seed=1)
    change(df)
    return write_run(tmp_path / name, df)


def at(df, name, res):
    return (df["name"] == name) & (df["resolution_h"] == res)


def test_identical_runs_have_no_differences(baseline):
    result = compare_runs(baseline, baseline)
    table, code = result.table, result.code
    assert code == 0
    assert table.empty


def test_planted_gmacs_regression_exits_1(tmp_path, baseline):
    run = planted(tmp_path, lambda df: df.__setitem__("gmacs", df["gmacs"].where(~at(df, "paca", 896),
                                                                                 df["gmacs"] * 1.0001)))
    result = compare_runs(baseline, run)
    table, code = result.table, result.code
    assert code == 1
    [row] = table.to_dict("records")
    assert (row["cell"], row["metric"], row["status"]) == ("op:paca 896x896 b1 float32 inference cpu", "gmacs",
                                                          "regression")
    assert row["change"] == pytest.approx(1e-4)


def test_params_change_is_a_regression(tmp_path, baseline):
    run = planted(tmp_path, lambda df: df.__setitem__("params", df["params"] + at(df, "vit", 224).astype(int)))
    result = compare_runs(baseline, run)
    table, code = result.table, result.code
    assert code == 1
    assert table[["metric", "status"]].values.tolist() == [["params", "regression"]]


def _with_bytes(df, device="cpu", factor=1):
    df["bytes_written"] = (df["gmacs"] * 1e9).round().astype("int64") * factor
    df["peak_mem_predicted_mb"] = df["tokens"] * 1536 / 2**20
    df["device"] = device


def test_bytes_written_and_the_predicted_peak_are_exact_on_the_same_device_only(tmp_path):
    base = planted(tmp_path, _with_bytes, "base")
    changed = planted(tmp_path, lambda df: _with_bytes(df, factor=2), "changed")
    comparison = compare_runs(base, changed)
    table, code = comparison.table, comparison.code
    assert code == 1 and set(table["metric"]) == {"bytes_written"} and set(table["status"]) == {"regression"}
    # the same cells counted for a CUDA device follow its attention kernels: not held to CPU's bytes
    comparison = compare_runs(base, planted(tmp_path, lambda df: _with_bytes(df, "cuda", factor=2), "gpu"))
    table, code = comparison.table, comparison.code
    assert code == 0 and "bytes_written" not in set(table["metric"])


def test_latency_change_within_tolerance_passes_and_beyond_fails(tmp_path, baseline):
    def slower(factor):
        return lambda df: df.__setitem__("latency_ms_median", df["latency_ms_median"].where(
            ~at(df, "swin", 448), df["latency_ms_median"] * factor))

    result = compare_runs(baseline, planted(tmp_path, slower(1.05)), tolerance=0.10)

    table, code = result.table, result.code
    assert code == 0
    assert table[["metric", "status"]].values.tolist() == [["latency_ms_median", "changed-within-tolerance"]]
    result = compare_runs(baseline, planted(tmp_path, slower(1.25), "run2"), tolerance=0.10)
    table, code = result.table, result.code
    assert code == 1
    assert table["status"].tolist() == ["regression"]
    assert compare_runs(baseline, tmp_path / "run2", tolerance=0.30).code == 0
    result = compare_runs(baseline, planted(tmp_path, slower(0.5), "run3"))
    table, code = result.table, result.code
    assert (code, table["status"].tolist()) == (0, ["improvement"])


def test_other_device_timings_are_not_compared(tmp_path, baseline):
    run = write_run(tmp_path / "run", make_rows(seed=7, device_name="Other CPU"))  # all timings differ
    result = compare_runs(baseline, run)
    table, code = result.table, result.code
    assert code == 0
    assert set(table["status"]) == {"not-compared"}
    assert set(table["metric"]) == {"latency_ms_median", "peak_mem_mb"}
    assert table["note"].iloc[0] == "different device: cpu / Synthetic CPU vs cpu / Other CPU"


def test_cpu_latency_timed_with_other_threads_is_not_compared(tmp_path):
    def threads(n):
        def change(df):
            df["cpu_threads"] = n
            df["latency_ms_median"] *= 3 if n == 1 else 1  # one thread of two: three times slower
        return change
    base, run = planted(tmp_path, threads(2), "base"), planted(tmp_path, threads(1))
    result = compare_runs(base, run)
    assert result.code == 0 and set(result.table["status"]) == {"not-compared"}
    assert set(result.table["metric"]) == {"latency_ms_median"}  # the peak memory is held to the tolerance
    assert result.table["note"].iloc[0] == "timed with 2 vs 1 CPU threads (other work held cores in one run)"
    assert compare_runs(base, planted(tmp_path, threads(2), "same")).table.empty


def test_ok_cell_that_now_errors_is_a_regression(tmp_path, baseline):
    run = planted(tmp_path, lambda df: df.__setitem__("status", df["status"].where(~at(df, "pvt", 224), "error")))
    result = compare_runs(baseline, run)
    table, code = result.table, result.code
    assert code == 1
    assert ["status", "regression"] in table[["metric", "status"]].values.tolist()


def test_cells_on_one_side_are_listed_not_failed(tmp_path, baseline):
    run = write_run(tmp_path / "run", make_rows(seed=1, operators=("paca", "swin", "pvt")))
    result = compare_runs(baseline, run)
    table, code = result.table, result.code
    assert code == 0
    assert table["status"].tolist() == ["only-in-baseline"] * 5


def test_unusable_inputs_exit_2_with_one_line(tmp_path, baseline):
    result = compare_runs(tmp_path / "missing", baseline)
    table, code = result.table, result.code
    assert code == 2
    assert result.error == (f"{tmp_path / 'missing'}: no results.csv found; pass a run folder "
                                    "(results/<run>/) or a results CSV")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert compare_runs(baseline, bad).code == 2
    assert compare_runs(baseline, bad).error.startswith(f"{bad}: missing columns kind, name,")
    other = write_run(tmp_path / "other", make_rows(resolutions=(320,)))
    result = compare_runs(baseline, other)
    table, code = result.table, result.code
    assert code == 2
    assert "no common cells" in result.error


def test_update_writes_counts_only_and_then_compares_clean(tmp_path, baseline):
    written = update_baseline(tmp_path / "new_baseline", baseline)
    assert written == tmp_path / "new_baseline" / "results.csv"
    stored = pd.read_csv(written)
    assert stored["latency_ms_median"].isna().all() and stored["device_name"].isna().all()
    assert stored["gmacs"].notna().all()
    result = compare_runs(written, baseline)
    table, code = result.table, result.code
    assert (code, table.empty) == (0, True)


def test_cli_exit_codes_and_update(tmp_path, baseline):
    runner = CliRunner()
    run = planted(tmp_path, lambda df: df.__setitem__("gmacs", df["gmacs"] * 2))
    result = runner.invoke(app, ["compare", str(baseline), str(run)])
    assert result.exit_code == 1
    assert "regression: 20 difference(s) beyond bounds" in result.output
    result = runner.invoke(app, ["compare", str(baseline), str(run), "--json"])
    assert result.exit_code == 1
    assert '"status": "regression"' in result.output
    result = runner.invoke(app, ["compare", str(tmp_path / "nope"), str(run)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    result = runner.invoke(app, ["compare", str(baseline), str(run), "--update"])
    assert result.exit_code == 0
    assert runner.invoke(app, ["compare", str(baseline), str(run)]).exit_code == 0


def test_the_op_class_split_is_held_exactly_and_an_older_baseline_without_it_still_compares(tmp_path):
    from synthetic_results import make_rows

    rows = make_rows(noise=0.0)
    moved = rows.assign(gmacs_mixing=rows["gmacs_mixing"] * 1.01)   # same total, different split
    result = compare_runs(rows, moved)
    table, code = result.table, result.code
    assert code == 1 and set(table.loc[table["status"] == "regression", "metric"]) == {"gmacs_mixing"}
    older = rows.drop(columns=["gmacs_mixing", "gmacs_dense", "gmacs_other"])
    result = compare_runs(older, rows)
    table, code = result.table, result.code
    assert code == 0 and table.empty
