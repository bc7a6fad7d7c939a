"""report.html of a tiny synthetic run: self-contained, verdicts first, plots, methods; CLI exit codes."""
import base64
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from pacabench.analysis import released
from pacabench.cli import app
from pacabench.report.html import build_report
from synthetic_results import make_rows, write_run

RESOLUTIONS = (224, 448, 896, 1344)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = write_run(tmp_path_factory.mktemp("report") / "run",
                    make_rows(operators=("paca", "pvt", "vit"), resolutions=RESOLUTIONS, oom=(("vit", 1344),)),
                    expectations={"op:paca": "linear", "op:vit": "quadratic"})
    path = build_report(run)
    return run, path, path.read_text()


def test_report_is_one_self_contained_file(report):
    run, path, html = report
    assert path == run / "report.html"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "<script" not in html


def test_sections_come_in_order_verdicts_first(report):
    _, _, html = report
    ids = ["verdicts", "crossovers", "plots", "results", "environment", "methods", "reproduce"]
    positions = [html.index(f'<section id="{i}"') for i in ids]
    assert positions == sorted(positions)


def test_verdict_table_has_every_series_and_metric(report):
    _, _, html = report
    table = html[html.index('id="verdict-table"'):html.index("</table>", html.index('id="verdict-table"'))]
    assert [m for m in re.findall(r"<td><b>(.*?)</b></td>", table)] == ["op:paca", "op:pvt", "op:vit"]
    assert len(re.findall(r'class="badge (linear|quadratic|inconclusive)"', table)) == 12  # 3 series, 4 metrics
    assert "All 2 expectations of the suite are met." in html


def test_every_plot_is_embedded_as_a_valid_png(report):
    run, _, html = report
    sources = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    files = sorted(p.name for p in (run / "plots").glob("*.png"))
    assert files == ["achieved_gmacs_per_s_operators.png", "anatomy_operators.png", "gmacs_operators.png",
                     "latency_ms_median_operators.png", "latency_us_per_token_operators.png",
                     "peak_mem_mb_operators.png", "throughput_img_s_operators.png"]
    assert len(sources) == len(files) == html.count("<img ")
    assert all(base64.b64decode(s)[:8] == b"\x89PNG\r\n\x1a\n" for s in sources)


def test_methods_results_environment_and_command(report):
    _, _, html = report
    methods = html[html.index('<section id="methods"'):html.index('<section id="reproduce"')]
    for phrase in ("<b>GMACs</b>: one multiply-accumulate counts as one FLOP", "aten::scaled_dot_product_attention",
                   "FlopCounterMode</code> at dispatch level", "padding='same'", "tracemalloc (CPU)",
                   "2 warm-up iterations", "from 7 samples per cell", "about 0.1 G above the table"):
        assert phrase in methods
    assert html.count('<tr class="status-') == 12
    assert '<tr class="status-oom">' in html
    assert "pacabench run suites/synthetic.yaml" in html
    assert "<dt>torch</dt><dd>2.14.1</dd>" in html


def test_headline_names_the_peer_that_ran_out_of_memory(report):
    _, _, html = report
    assert "At 1344 px op:paca needs" in html and "op:vit ran out of memory at 1344 px" in html


def test_failed_expectations_are_shown_and_exit_1(tmp_path):
    run = write_run(tmp_path / "run", make_rows(operators=("paca", "vit"), resolutions=(224, 448, 896), oom=()),
                    expectations={"op:paca": "quadratic"})
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 1
    assert f"report: {run / 'report.html'}" in result.output
    assert ("expectation failed: op:paca: expected quadratic scaling of gmacs, got inconclusive "
            "(inconclusive: 3 sizes fit any c0 + c1·N + c2·N² exactly; count a fourth size to check the model)"
            ) in result.output
    html = (run / "report.html").read_text()
    assert 'id="expectation-failures"' in html and "&#10007; failed" in html


def test_expectations_per_metric_are_read_from_the_run_and_each_is_checked(tmp_path):
    rows = make_rows(operators=("paca", "vit"), resolutions=(224, 448, 896, 1344, 2048), oom=(), noise=0.0)
    run = write_run(tmp_path / "run", rows, expectations={
        "op:paca": {"gmacs": "linear", "latency": "linear"},
        "op:vit": {"gmacs": "quadratic", "latency": "quadratic", "memory": "linear"}})
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 1  # the synthetic ViT's measured memory grows with its MACs: quadratic
    assert "expectation failed: op:vit: expected linear scaling of memory, got quadratic" in result.output
    assert result.output.count("expectation failed") == 1
    html = (run / "report.html").read_text()
    assert "gmacs linear, latency linear" in html and "gmacs quadratic, latency quadratic, memory linear" in html


def test_report_of_a_folder_without_results_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == (f"error: {tmp_path}: no results.csv found; pass a run folder (results/<run>/) "
                             "or a results CSV\n")


def test_zoo_rows_at_224_get_the_measured_vs_released_chart(tmp_path, monkeypatch):
    monkeypatch.setattr(released, "released_figures", lambda: {
        "pacavit_tiny_p2cconv_100_0": {"top1": 80.9, "params_m": 12.2, "gmacs": 3.2},
        "pacavit_convmixer_small_100": {"top1": 83.17, "params_m": 21.1, "gmacs": 5.4}})
    rows = make_rows(operators=("paca",), resolutions=(224, 448, 896), oom=())
    models = rows.iloc[:2].assign(kind="model", name=["pacavit_tiny_p2cconv_100_0", "pacavit_convmixer_small_100"],
                                  label=["pacavit_tiny_p2cconv_100_0", "pacavit_convmixer_small_100"],
                                  params=[12_200_680, 21_075_064], gmacs=[3.21, 5.51], resolution_h=224,
                                  resolution_w=224, tokens=3136)
    run = write_run(tmp_path / "run", pd.concat([rows, models], ignore_index=True), expectations={})
    html = build_report(run).read_text()
    assert (run / "plots" / "zoo_measured_vs_released.png").exists()
    zoo = html[html.index('<section id="zoo"'):html.index('<section id="results"')]
    assert "pacavit_convmixer_small_100" in zoo and "+0.11" in zoo and "~0.1 G" in zoo


LOADED_START = {"cpu_count": 2, "cpu_threads": 1, "cpu_threads_why": "0.9 of 2 CPUs idle when the run started"}


@pytest.mark.parametrize("env, probes, expected", [
    (LOADED_START, (100.0, 95.0), "Other work held CPU time when the run started (0.9 of 2 CPUs idle when the run "
                                  "started), so every CPU cell timed with 1 of 2 threads, on the cores it left free."),
    ({**LOADED_START, "cpu_threads": 2}, (100.0, 95.0), None),
    ({**LOADED_START, "cpu_threads_why": "the suite's `threads`"}, (100.0, 95.0), None),  # chosen, not load
    ({**LOADED_START, "cpu_threads": "1"}, (100.0, 95.0), None),  # a run folder is data: a bad value is no claim
    ({"cpu_count": 2}, (100.0, 60.0), "1 of 2 timed cells ran while the device's matmul rate was below 70% of the "
                                      "best this run saw (60 against 100 GFLOP/s) or the 1-minute load average was "
                                      "above the 2 cores (up to 1.0)."),
])
def test_the_report_says_when_a_run_was_measured_under_load(env, probes, expected):
    from pacabench.report.html import load_note

    df = pd.DataFrame({"matmul_gflops_before": probes, "matmul_gflops_after": probes, "load_avg_1m": [1.0, 1.0]})
    note = load_note(df, env)
    if expected is None:
        assert note == ""
    else:
        assert note == expected + (" Latency verdicts read time per token and name steps, so they hold under load; "
                                   "absolute times and rates do not.")
