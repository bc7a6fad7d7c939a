"""Results read back (report, compare, resume) are checked against one schema: COLUMN_TYPES beside
ROW_COLUMNS. A malformed or repeated row is one line naming the row, never a traceback, and a file
with fewer columns than pacabench writes today still reads (issue #14)."""
import errno

import pandas as pd
import pytest
from typer.testing import CliRunner

from pacabench.analysis.compare import compare_runs
from pacabench.analysis.results import REQUIRED_COLUMNS
from pacabench.cli import app
from pacabench.measure.cell import Cell, measure_cell
from pacabench.measure.schema import COLUMN_TYPES, ROW_COLUMNS
from pacabench.measure.schema import row_problems
from synthetic_results import make_rows, write_run

# The schema type each Python type of a measured value may have.
TYPES_OF = {bool: {"bool"}, int: {"int", "float"}, float: {"float"}, list: {"json_list"},
            dict: {"json_object"}}


def test_every_typed_value_a_cell_reports_has_its_column_type():
    assert set(COLUMN_TYPES) <= set(ROW_COLUMNS)
    row = measure_cell(Cell("operator", "paca", {"clusters": 4}, 32, 32, warmup=1, min_repeats=2,
                            min_time_s=0.0))
    assert row["status"] == "ok", row["message"]
    typed = {column for column in ROW_COLUMNS if type(row[column]) in TYPES_OF}
    assert len(typed) >= 18
    for column in typed:
        assert COLUMN_TYPES.get(column) in TYPES_OF[type(row[column])], (column, row[column])
    assert COLUMN_TYPES["params_json"] == "json_object" and COLUMN_TYPES["status"] == "status"


def test_row_problems_name_the_first_bad_column_and_value():
    rows = pd.DataFrame({
        "kind": ["operator", "", "operator", "operator", "operator", "operator"],
        "params_json": ["{}", "{}", "[1]", "{}", "{}", "{}"],
        "resolution_h": ["224", "224", "224", "2x24", "224.0", "224"],
        "status": ["ok", "ok", "ok", "ok", "fine", "ok"],
        "flops_agree": ["True", "", "false", "True", "True", "yes"],
        "not_a_pacabench_column": ["anything"] * 6,
    })
    assert row_problems(rows).tolist() == [
        "",
        "column kind is empty; every row names its cell and status",
        "column params_json: '[1]' is not a JSON object",
        "column resolution_h: '2x24' is not an integer",
        "column status: 'fine' is not a status (ok, oom, timeout, skipped_budget, error)",
        "column flops_agree: 'yes' is not true or false",
    ]


@pytest.mark.parametrize("change, problem", [
    (lambda text: text.replace(",paca,{},448,448,", ",paca,{},big,448,"),
     "data row 2: column resolution_h: 'big' is not an integer"),
    (lambda text: text.replace(",paca,{},448,448,", ',paca,"{oops",448,448,'),
     "data row 2: column params_json: '{oops' is not a JSON object"),
    (lambda text: text + "".join(text.splitlines(keepends=True)[1:]) * 40,  # 820 rows, 20 cells
     "data rows 1 and 21 are the same cell (paca 224x224 b1 float32 inference cpu); a results file holds "
     "one row per cell: remove the repeated rows, or compare one run's file"),
])
def test_malformed_or_repeated_rows_are_one_line_for_report_and_compare(tmp_path, change, problem):
    good = write_run(tmp_path / "good", make_rows())
    bad = write_run(tmp_path / "bad", make_rows())
    csv = bad / "results.csv"
    csv.write_text(change(csv.read_text()))
    for args in (["compare", str(good), str(bad)], ["report", str(bad)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: {csv}: {problem}") and result.stderr.count("\n") == 1


def test_a_file_with_only_the_required_columns_reads(tmp_path):
    run = write_run(tmp_path / "run", make_rows()[list(REQUIRED_COLUMNS)])
    result = CliRunner().invoke(app, ["compare", str(run), str(run)])
    assert (result.exit_code, result.stdout) == (
        0, "no differences: counts equal, no timings to compare (the baseline has none for these cells)\n")
    assert CliRunner().invoke(app, ["report", str(run)]).exit_code == 0


def test_run_without_timing_columns_is_not_compared_rather_than_within_tolerance(tmp_path):
    baseline = write_run(tmp_path / "baseline", make_rows())
    untimed = make_rows().drop(columns=["latency_ms_median", "peak_mem_mb"])
    result = compare_runs(baseline, write_run(tmp_path / "run", untimed))
    table, code = result.table, result.code
    timed = make_rows()["status"].eq("ok").sum()
    assert code == 0 and result.timings_compared == 0
    assert table["status"].tolist() == ["not-compared"] * (2 * timed)
    assert set(table["note"]) == {"not measured in the run"}
    result = CliRunner().invoke(app, ["compare", str(baseline), str(tmp_path / "run")])
    assert result.exit_code == 0 and "within" not in result.stdout and "not-compared" in result.stdout


def test_update_leaves_the_old_baseline_whole_when_the_disk_is_full(tmp_path, monkeypatch):
    baseline = write_run(tmp_path / "baseline", make_rows())
    before = (baseline / "results.csv").read_bytes()

    def half_then_full(self, path, **kwargs):
        with open(path, "w") as f:
            f.write("cell_key,kind,na")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_full)
    result = CliRunner().invoke(app, ["compare", str(baseline), str(baseline), "--update"])
    assert (result.exit_code, result.stderr) == (
        2, f"error: BASELINE: cannot write {baseline}: No space left on device; choose a baseline folder "
           "you can write to\n")
    assert (baseline / "results.csv").read_bytes() == before
    assert sorted(p.name for p in baseline.iterdir()) == ["env.json", "results.csv", "suite.yaml"]
