"""What `compare` and `report` print for a CI system: Markdown for a job summary or a pull-request
comment, JUnit XML for a test report (one test case per compared cell or per expectation).

Both are built from the same objects the text output reads (the compare table, the run's
analysis), so every format says the same thing.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pandas as pd

from pacabench.analysis.expectations import expectation_items
from pacabench.analysis.results import METRICS
from pacabench.analysis.run_analysis import RunAnalysis
from pacabench.analysis.scaling import SCALING_METRICS


def _cell(value) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened, numbers compact."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _junit(suite_name: str, cases: list[tuple[str, str, str | None, str | None]]) -> str:
    """``cases``: (class name, test name, failure message or None, skipped message or None)."""
    failures = sum(1 for _, _, failure, _ in cases if failure)
    skipped = sum(1 for _, _, failure, skip in cases if skip and not failure)
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)), failures=str(failures),
                       errors="0", skipped=str(skipped))
    for classname, name, failure, skip in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name)
        if failure:
            ET.SubElement(case, "failure", message=failure.splitlines()[0][:500]).text = failure
        elif skip:
            ET.SubElement(case, "skipped", message=skip)
    suites = ET.Element("testsuites", name="pacabench", tests=str(len(cases)), failures=str(failures))
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


# ----------------------------------------------------------------------------- compare

def compare_markdown(table: pd.DataFrame, baseline: str, run: str, tolerance: float, code: int) -> str:
    regressions = int((table["status"] == "regression").sum())
    cells = table.attrs.get("cells", [])
    head = (f"### pacabench compare: {'❌ ' + str(regressions) + ' regression(s)' if code else '✅ no regression'}")
    timings = table.attrs.get("timings_compared", 0)
    summary = (f"`{run}` against the baseline `{baseline}`: {len(cells)} cells compared; counts must be equal, "
               f"latency and peak memory within {tolerance:.0%} on the same device "
               f"({timings} timed value(s) compared).")
    lines = [head, "", summary, ""]
    if table.empty:
        lines.append("No differences.")
    else:
        shown = [[r["cell"], r["metric"], r["baseline"], r["run"],
                  "" if r["change"] is None or r["change"] != r["change"] else f"{r['change']:+.1%}",
                  ("❌ " if r["status"] == "regression" else "") + r["status"], r["note"]]
                 for r in table.to_dict("records")]
        lines += _markdown_table(["cell", "metric", "baseline", "run", "change", "status", "note"], shown)
    return "\n".join(lines) + "\n"


def compare_junit(table: pd.DataFrame) -> str:
    cases = []
    for cell in table.attrs.get("cells", []):
        rows = table[(table["cell"] == cell) & (table["status"] == "regression")]
        failure = "; ".join(f"{r['metric']}: baseline {r['baseline']}, run {r['run']} ({r['note']})"
                            for r in rows.to_dict("records")) or None
        cases.append(("pacabench.compare", cell, failure, None))
    for r in table[table["status"].isin(["only-in-baseline", "only-in-run"])].to_dict("records"):
        cases.append(("pacabench.compare", r["cell"], None, f"{r['status']}: {r['note']}"))
    return _junit("pacabench compare", cases)


# ----------------------------------------------------------------------------- report

def _verdicts(analysis: RunAnalysis) -> tuple[list[str], list[list]]:
    table = analysis.scaling
    metrics = [m for m in SCALING_METRICS if (table["metric"] == m).any()]
    rows = []
    for series, group in table.groupby("series", sort=False):
        by_metric = group.set_index("metric")
        label = group["label"].iloc[0]
        failed = {f.metric for f in analysis.failures if f.label == label}
        marks = [f"{'❌' if key in failed else '✅'} {key} {verdict}"
                 for name, key, verdict in expectation_items(analysis.expectations) if name == label]
        rows.append([series, *(by_metric["verdict"].get(m, "") for m in metrics), ", ".join(marks)])
    return ["series", *(METRICS[m][0] for m in metrics), "expected"], rows


def report_markdown(analysis: RunAnalysis) -> str:
    failures, expectations = analysis.failures, analysis.expectations
    if failures:
        state = f"❌ {len(failures)} expectation(s) failed"
    elif expectations:
        state = f"✅ all {len(expectation_items(expectations))} expectations met"
    else:
        state = "no expectations"
    lines = [f"### pacabench report: {analysis.run.name}: {state}", ""]
    header, rows = _verdicts(analysis)
    lines += _markdown_table(header, rows)
    if failures:
        lines += ["", "**Failed expectations**", ""] + [f"- {_cell(str(f))}" for f in failures]
    gmacs = analysis.scaling[analysis.scaling["metric"] == "gmacs"]
    if len(gmacs):
        lines += ["", "**GMACs, in words**", ""] + [f"- **{_cell(r['series'])}**: {_cell(r['reason'])}"
                                                    for r in gmacs.to_dict("records")]
    return "\n".join(lines) + "\n"


def report_junit(analysis: RunAnalysis) -> str:
    failed = {(f.label, f.metric): str(f) for f in analysis.failures}
    cases = [("pacabench.expectations", f"{label}: {expected} {key}", failed.get((label, key)), None)
             for label, key, expected in expectation_items(analysis.expectations)]
    return _junit(f"pacabench report {analysis.run.name}", cases)


def report_json(analysis: RunAnalysis, page) -> str:
    verdicts = analysis.scaling.astype(object).where(analysis.scaling.notna(), None).to_dict("records")
    return json.dumps({
        "run": str(analysis.run.directory), "report": str(page), "verdicts": verdicts,
        "expectations": [{"label": label, "metric": key, "expected": expected,
                          "met": not any(f.label == label and f.metric == key for f in analysis.failures)}
                         for label, key, expected in expectation_items(analysis.expectations)],
        "failures": [str(f) for f in analysis.failures]}, indent=1)
