"""Every document compare and report write survives any label: each is parsed back (Markdown rendered
by a CommonMark parser, JUnit by xml.etree, the baseline by pandas) with labels holding line breaks,
a BEL, tags, emphasis, code, links; JUnit is linear in cells; JSON numbers are exact."""
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pandas as pd
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from pacabench.analysis.compare import Comparison, compare_runs
from pacabench.cli import app
from pacabench.messages import printable
from pacabench.report import ci, html
from synthetic_results import make_rows, write_run

HOSTILE = ["op:cr\rlabel", "op:nl\nlabel", "op:bel\x07label", "op:<tag>x</tag>", "op:**bold** _em_",
           "op:`code`", "op:[link](https://evil.example)", "op:pipe|cell", "op:![img](x.png) &amp; $x$ ~~s~~"]


def _invoke(*args):
    return CliRunner().invoke(app, list(map(str, args)))


def hostile_run(directory, gmacs_factor=1.0):
    """One PaCa series per hostile label, written as the runner writes results.csv (csv module line ends)."""
    frames = []
    for i, label in enumerate(HOSTILE):
        rows = make_rows(operators=("paca",), resolutions=(224, 448, 672, 896), oom=(), noise=0.0)
        frames.append(rows.assign(params_json=json.dumps({"clusters": i + 1}), label=label,
                                  cell_key=rows["cell_key"] + f"-{i}"))
    df = pd.concat(frames, ignore_index=True)
    df.loc[0, "gmacs"] *= gmacs_factor
    write_run(directory, df, expectations=dict.fromkeys(HOSTILE, "linear"))
    df.to_csv(directory / "results.csv", index=False, lineterminator="\r\n")
    return directory


class _Elements(HTMLParser):
    """Tags seen, and the text of each table row's cells."""

    def __init__(self, html_text: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.rows, self._cell = [], [], None
        self.feed(html_text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _table_rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of the HTML table with id ``table_id`` (an HTML parser reads a \r as \n)."""
    part = page[page.index(f'<table id="{table_id}"'):]
    return _Elements(part[:part.index("</table>") + len("</table>")]).rows[1:]


def _rendered(markdown: str) -> _Elements:
    return _Elements(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))


def test_report_markdown_shows_every_label_as_typed_in_one_row_each(tmp_path):
    result = _invoke("report", hostile_run(tmp_path / "run"), "--format", "markdown")
    assert result.exit_code == 0, result.output
    page = _rendered(result.stdout)
    header, *rows = page.rows
    assert header[0] == "series" and len(rows) == len(HOSTILE)
    assert sorted(row[0] for row in rows) == sorted(printable(label) for label in HOSTILE)
    assert all(row[-1] == "✅ gmacs linear" for row in rows)
    assert set(page.tags) <= {"h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong"}
    assert page.tags.count("strong") == 1 + len(HOSTILE)  # "GMACs, in words" and each series' name


def test_report_junit_is_xml_with_every_label(tmp_path):
    result = _invoke("report", hostile_run(tmp_path / "run"), "--format", "junit")
    assert result.exit_code == 0
    cases = ET.fromstring(result.stdout).find("testsuite").findall("testcase")
    assert [c.get("name") for c in cases] == [f"{printable(label, lines=True)}: linear gmacs" for label in HOSTILE]


def test_report_html_escapes_every_label(tmp_path):
    run = hostile_run(tmp_path / "run")
    assert _invoke("report", run).exit_code == 0
    text = (run / "report.html").read_text()
    assert "tag" not in _Elements(text).tags and "&lt;tag&gt;x&lt;/tag&gt;" in text
    shown = sorted(row[0] for row in _table_rows(text, "verdict-table"))
    assert shown == sorted(label.replace("\r", "\n") for label in HOSTILE)


def test_compare_documents_and_update_survive_any_label(tmp_path):
    base, run = hostile_run(tmp_path / "base"), hostile_run(tmp_path / "run", gmacs_factor=1.5)
    junit = _invoke("compare", base, run, "--format", "junit")
    assert junit.exit_code == 1
    cases = ET.fromstring(junit.stdout).find("testsuite").findall("testcase")
    assert len(cases) == 4 * len(HOSTILE)
    [failed] = [c for c in cases if c.find("failure") is not None]
    assert failed.get("name") == "op:cr label {\"clusters\": 1} 224x224 b1 float32 inference cpu"
    markdown = _rendered(_invoke("compare", base, run, "--format", "markdown").stdout)
    assert [row[0] for row in markdown.rows[1:]] == ["op:cr label {\"clusters\": 1} 224x224 b1 float32 inference cpu"]
    updated = _invoke("compare", tmp_path / "baseline", run, "--update")
    assert updated.exit_code == 0, updated.output
    again = _invoke("compare", tmp_path / "baseline", run)
    assert again.exit_code == 0 and again.stdout.startswith("no differences"), again.output
    assert set(pd.read_csv(tmp_path / "baseline" / "results.csv")["label"]) == set(HOSTILE)


def test_compare_junit_filters_the_table_a_fixed_number_of_times_whatever_the_cells(monkeypatch):
    """It filtered once per cell, and pandas deep-copied the list of cells in attrs on each filter:
    10^4 cells took 268 s against 4.4 s for text."""
    def comparison(cells: int) -> Comparison:
        names = [f"op:x{i} 224x224 b1 float32 inference cpu" for i in range(cells)]
        table = pd.DataFrame([{"cell": name, "metric": "gmacs", "baseline": 1.0, "run": 2.0, "change": 1.0,
                               "status": "regression", "note": ""} for name in names])
        return Comparison(table, 1, names)

    filters = []
    real = pd.DataFrame.__getitem__
    monkeypatch.setattr(pd.DataFrame, "__getitem__", lambda self, key: filters.append(key) or real(self, key))
    small, large = comparison(10), comparison(2000)
    filters.clear()
    assert ET.fromstring(ci.compare_junit(small)).find("testsuite").get("failures") == "10"
    few = len(filters)
    filters.clear()
    assert ET.fromstring(ci.compare_junit(large)).find("testsuite").get("failures") == "2000"
    assert len(filters) == few <= 4


def test_a_comparison_keeps_nothing_in_dataframe_attrs(tmp_path):
    run = write_run(tmp_path / "run")
    result = compare_runs(run, run)
    assert result.table.attrs == {} and len(result.cells) == 20 and result.timings_compared == 2 * 19  # ViT oom once


def test_the_report_caps_the_verdict_and_cost_model_tables_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(html, "MAX_TABLE_ROWS", 3)
    run = hostile_run(tmp_path / "run")
    assert _invoke("report", run).exit_code == 0
    text = (run / "report.html").read_text()
    assert "The first 3 of 9 series (the table is capped" in text
    assert "The first 3 of 36 cost models (the table is" in text  # 9 series x 4 metrics
    assert [len(_table_rows(text, table)) for table in ("verdict-table", "cost-model-table", "results-table")] == [3] * 3


def test_scaling_json_carries_paca_tiny_c2_exactly():
    result = _invoke("scaling", "pacavit_tiny_p2cconv_100_0", "--resolutions", "224,448,672,896", "--json")
    assert result.exit_code == 0, result.output
    gmacs = {row["metric"]: row for row in json.loads(result.stdout)}["gmacs"]
    assert gmacs["c2"] == 3.75e-10 and '"c2": 3.75e-10' in result.stdout
    assert gmacs["points"] == 4 and isinstance(gmacs["points"], int)


def test_report_and_compare_json_carry_every_number_exactly(tmp_path):
    rows = make_rows(operators=("paca",), resolutions=(224, 448, 672, 896), oom=(), noise=0.0)
    n = rows["tokens"]
    rows["gmacs"] = (1000 * n + 3 * n * n // 8) / 1e9  # c2 = 0.375 MACs per token² = 3.75e-10 GMACs
    rows["gmacs_mixing"], rows["gmacs_dense"] = 3 * n * n // 8 / 1e9, 1000 * n / 1e9
    base = write_run(tmp_path / "base", rows, expectations={})
    report = json.loads(_invoke("report", base, "--format", "json").stdout)
    assert {v["metric"]: v["c2"] for v in report["verdicts"]}["gmacs"] == 3.75e-10
    changed = rows.assign(gmacs=rows["gmacs"] * (1 + 1.234567891234e-5), params=rows["params"] + 1)
    compared = _invoke("compare", base, write_run(tmp_path / "run", changed), "--format", "json")
    diffs = {(d["cell"][:11], d["metric"]): d for d in json.loads(compared.stdout)}
    gmacs = diffs[("op:paca 224", "gmacs")]
    assert (gmacs["baseline"], gmacs["run"]) == (rows["gmacs"][0], changed["gmacs"][0])
    params = diffs[("op:paca 224", "params")]
    assert (params["baseline"], params["run"]) == (37248, 37249) and isinstance(params["run"], int)
