"""What `compare` and `report` print for a CI system: Markdown for a job summary or a pull-request
comment, JUnit XML for a test report (one test case per compared cell or per expectation).

Both are built from the same objects the text output reads (the comparison, the run's
analysis), so every format says the same thing. Labels and messages are data, escaped for each
format: a Markdown cell shows them as typed (no markup, links or HTML, one row per line), and XML
holds only characters XML 1.0 can carry.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pandas as pd

from pacabench.analysis.compare import Comparison
from pacabench.analysis.expectations import expectation_items
from pacabench.analysis.results import METRICS
from pacabench.analysis.run_analysis import RunAnalysis
from pacabench.analysis.scaling import SCALING_METRICS
from pacabench.messages import printable
from pacabench.report.exact_json import dumps, records

# Characters that start Markdown or HTML inside a line (emphasis, code, links, images, tags,
# entities, math, strikethrough, table cells), each written with a backslash to stand for itself.
# An underscore between two letters or digits never marks emphasis (my_attention stays as typed).
_MARKDOWN = re.compile(r"[\\`*\[\]<>|~&$!]|(?<![^\W_])_|_(?![^\W_])")
# What XML 1.0 cannot hold at all (most C0 controls, surrogates, U+FFFE and U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _cell(value) -> str:
    """Text for Markdown (a table cell or a list item): shown as typed, on one line, numbers compact."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return _MARKDOWN.sub(r"\\\g<0>", printable(text))


def _xml(text: str) -> str:
    """``text`` as XML 1.0 can hold it (terminal escapes removed too: CI pages show these messages)."""
    return _NOT_XML.sub("", printable(text, lines=True))


def _markdown_table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _junit(suite_name: str, cases: list[tuple[str, str, str | None, str | None]]) -> str:
    """``cases``: (class name, test name, failure message or None, skipped message or None)."""
    failures = sum(1 for _, _, failure, _ in cases if failure)
    skipped = sum(1 for _, _, failure, skip in cases if skip and not failure)
    suite = ET.Element("testsuite", name=_xml(suite_name), tests=str(len(cases)), failures=str(failures),
                       errors="0", skipped=str(skipped))
    for classname, name, failure, skip in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=_xml(name))
        if failure:
            failure = _xml(failure)
            ET.SubElement(case, "failure", message=(failure.splitlines() or [""])[0][:500]).text = failure
        elif skip:
            ET.SubElement(case, "skipped", message=_xml(skip))
    suites = ET.Element("testsuites", name="pacabench", tests=str(len(cases)), failures=str(failures))
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


# ----------------------------------------------------------------------------- compare

def compare_markdown(comparison: Comparison, baseline: str, run: str, tolerance: float) -> str:
    table = comparison.table
    regressions = int((table["status"] == "regression").sum())
    head = (f"### pacabench compare: {'❌ ' + str(regressions) + ' regression(s)' if comparison.code else '✅ no regression'}")
    summary = (f"{_cell(run)} against the baseline {_cell(baseline)}: {len(comparison.cells)} cells compared; "
               f"counts must be equal, latency and peak memory within {tolerance:.0%} on the same device "
               f"({comparison.timings_compared} timed value(s) compared).")
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


def compare_junit(comparison: Comparison) -> str:
    """One test case per compared cell, failed when it regressed; the regressions are grouped by
    cell in one pass (the table is never filtered per cell)."""
    table = comparison.table
    regressed: dict[str, list[str]] = {}
    for r in table[table["status"] == "regression"].to_dict("records"):
        regressed.setdefault(r["cell"], []).append(
            f"{r['metric']}: baseline {r['baseline']}, run {r['run']} ({r['note']})")
    cases = [("pacabench.compare", cell, "; ".join(regressed.get(cell, [])) or None, None)
             for cell in comparison.cells]
    for r in table[table["status"].isin(["only-in-baseline", "only-in-run"])].to_dict("records"):
        cases.append(("pacabench.compare", r["cell"], None, f"{r['status']}: {r['note']}"))
    return _junit("pacabench compare", cases)


def compare_json(comparison: Comparison) -> str:
    """The differences as JSON records, every number at full precision."""
    return dumps(records(comparison.table), indent=1)


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
    lines = [f"### pacabench report: {_cell(analysis.run.name)}: {state}", ""]
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
    return dumps({
        "run": str(analysis.run.directory), "report": str(page), "verdicts": records(analysis.scaling),
        "expectations": [{"label": label, "metric": key, "expected": expected,
                          "met": not any(f.label == label and f.metric == key for f in analysis.failures)}
                         for label, key, expected in expectation_items(analysis.expectations)],
        "failures": [str(f) for f in analysis.failures]}, indent=1)
