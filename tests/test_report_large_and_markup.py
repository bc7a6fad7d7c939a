"""Reports of hostile runs: labels are text (never mathtext or HTML), and large runs stay drawable,
saying what was left out."""
import pandas as pd
import pytest

from pacabench.report import html, plots
from pacabench.report.html import build_report
from synthetic_results import make_rows, write_run

MARKUP = r"op:$\frac{a$ <b>x</b>"


def test_a_label_with_dollar_signs_and_tags_is_drawn_and_shown_as_typed(tmp_path):
    """An unbalanced mathtext label used to make every report of the run fail with a traceback."""
    rows = make_rows(operators=("paca", "vit"), resolutions=(224, 448, 672, 896), oom=())
    rows.loc[rows["name"] == "vit", "label"] = MARKUP
    run = write_run(tmp_path / "run", rows, expectations={})
    page = build_report(run).read_text()
    assert "op:$\\frac{a$ &lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert (run / "plots" / "gmacs_operators.png").stat().st_size > 0


@pytest.fixture
def wide_run(tmp_path, monkeypatch):
    monkeypatch.setattr(html, "MAX_TABLE_ROWS", 5)
    monkeypatch.setattr(plots, "MAX_SERIES", 2)
    sizes = tuple(224 + 32 * i for i in range(24))
    rows = make_rows(operators=("paca", "swin", "pvt"), resolutions=sizes, oom=())
    return write_run(tmp_path / "run", rows, expectations={})


def test_large_runs_cap_the_table_and_the_series_drawn_and_say_so(wide_run):
    page = build_report(wide_run).read_text()
    assert "The first 5 of 72 rows of results.csv" in page
    assert page.count('<tr class="status-') == 5
    assert "1 more series are not drawn (at most 2 per figure; all are in the tables)." in page
    assert "<td><b>op:pvt</b></td>" in page  # every series still gets its verdict


def test_resolution_ticks_are_spread_over_long_sweeps(wide_run):
    df = pd.read_csv(wide_run / "results.csv")
    from pacabench.analysis.results import label_rows

    fig = plots.cost_figure(label_rows(df), "gmacs", plots.palette(label_rows(df)))
    [top] = [axis for axis in fig.axes[0].child_axes if axis.get_xlabel() == "input resolution (px)"]
    labels = [t.get_text() for t in top.get_xticklabels()]
    assert len(labels) == plots.MAX_TICKS and labels[0] == "224" and labels[-1] == "960"
