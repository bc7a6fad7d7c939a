"""CI-native output of compare and report: Markdown tables and JUnit XML, parsed back; exit codes
unchanged; --json stays an alias."""
import json
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from pacabench.cli import app
from synthetic_results import make_rows, write_run


def _invoke(*args):
    return CliRunner().invoke(app, list(map(str, args)))


def _markdown_rows(text: str) -> list[list[str]]:
    """The cells of the first Markdown table in ``text`` (header first, the --- line dropped)."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    return [row for row in rows if not set("".join(row)) <= {"-", "|"}]


@pytest.fixture
def runs(tmp_path):
    base = make_rows(operators=("paca", "vit"), resolutions=(224, 448, 672, 896), oom=(), noise=0.0)
    changed = base.copy()
    changed.loc[(changed["name"] == "vit") & (changed["resolution_h"] == 448), "gmacs"] *= 1.5
    extra = base[base["resolution_h"] == 896].assign(resolution_h=1344, resolution_w=1344, tokens=336 ** 2,
                                                     cell_key=lambda d: d["cell_key"] + "-extra")
    import pandas as pd

    return (write_run(tmp_path / "base", base, expectations={"op:paca": "linear", "op:vit": "linear"}),
            write_run(tmp_path / "run", pd.concat([changed, extra], ignore_index=True)))


def test_compare_markdown_is_a_table_of_what_changed(runs):
    base, run = runs
    result = _invoke("compare", base, run, "--format", "markdown")
    assert result.exit_code == 1  # as in text: a regression
    assert result.stdout.startswith("### pacabench compare: ❌ 1 regression(s)\n")
    header, *rows = _markdown_rows(result.stdout)
    assert header == ["cell", "metric", "baseline", "run", "change", "status", "note"]
    regression = [row for row in rows if row[5] == "❌ regression"]
    assert len(regression) == 1 and regression[0][0].startswith("op:vit 448x448") and regression[0][4] == "+50.0%"
    assert sum(row[5] == "only-in-run" for row in rows) == 2


def test_compare_junit_has_one_case_per_compared_cell(runs):
    base, run = runs
    result = _invoke("compare", base, run, "--format", "junit")
    assert result.exit_code == 1
    suite = ET.fromstring(result.stdout).find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == 8 + 2  # 8 compared cells, 2 only in the run
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["op:vit 448x448 b1 float32 inference cpu"]
    assert "gmacs: baseline" in failed[0].find("failure").get("message")
    assert len([c for c in cases if c.find("skipped") is not None]) == 2 and suite.get("failures") == "1"


def test_compare_json_alias_and_conflicting_formats(runs):
    base, run = runs
    assert json.loads(_invoke("compare", base, run, "--json").stdout) == \
        json.loads(_invoke("compare", base, run, "--format", "json").stdout)
    conflict = _invoke("compare", base, run, "--json", "--format", "junit")
    assert conflict.exit_code == 2 and conflict.stderr == "error: --json: not with --format junit; --json is --format json\n"
    bad = _invoke("compare", base, run, "--format", "yaml")
    assert bad.exit_code == 2 and "error: --format: 'yaml' is not a format; use text, json, markdown or junit" in bad.stderr


def test_report_markdown_has_the_verdicts_and_the_expectations(runs):
    base, _ = runs
    result = _invoke("report", base, "--format", "markdown")
    assert result.exit_code == 1  # op:vit is quadratic, the suite expected linear
    assert result.stdout.startswith("### pacabench report: synthetic: ❌ 1 expectation(s) failed\n")
    header, *rows = _markdown_rows(result.stdout)
    assert header[0] == "series" and header[1] == "GMACs" and header[-1] == "expected"
    verdicts = {row[0]: (row[1], row[-1]) for row in rows}
    assert verdicts == {"op:paca": ("linear", "✅ gmacs linear"), "op:vit": ("quadratic", "❌ gmacs linear")}
    assert "- **op:vit**: quadratic: an N² term in attn;" in result.stdout
    assert "report.html" not in result.stdout and "report.html" in result.stderr  # stdout is the document


def test_report_junit_has_one_case_per_expectation(runs):
    base, _ = runs
    result = _invoke("report", base, "--format", "junit")
    suite = ET.fromstring(result.stdout).find("testsuite")
    cases = {c.get("name"): c.find("failure") for c in suite.findall("testcase")}
    assert set(cases) == {"op:paca: linear gmacs", "op:vit: linear gmacs"}
    assert cases["op:paca: linear gmacs"] is None
    assert cases["op:vit: linear gmacs"].get("message").startswith("op:vit: expected linear scaling of gmacs, got quadratic")


def test_report_json_carries_verdicts_and_expectations(runs):
    base, _ = runs
    out = json.loads(_invoke("report", base, "--json").stdout)
    assert {(e["label"], e["met"]) for e in out["expectations"]} == {("op:paca", True), ("op:vit", False)}
    assert {(v["label"], v["metric"], v["verdict"]) for v in out["verdicts"]} >= {("op:vit", "gmacs", "quadratic")}
