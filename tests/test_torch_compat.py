"""The torch versions pacabench supports: exact counts on every one of them (CI runs this file on the
oldest and the newest it tested), and on a newer one the flag in env.json and the report, and an error
row, never a silent number, where the two counters disagree."""
import json
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement
from packaging.version import Version

from pacabench.measure import flops
from pacabench.measure.cell import Cell, measure_cell
from pacabench.measure.counts import count_target
from pacabench.measure.env import capture_env
from pacabench.measure.torch_compat import OLDEST_TORCH, TESTED_TORCH, untested_torch
from pacabench.report.html import build_report
from synthetic_results import make_rows, write_run

ROOT = Path(__file__).resolve().parents[1]
UNTESTED = ("torch 2.15.0 is newer than the newest torch pacabench was tested with (2.14): its counts are "
            "trusted only where the two FLOP counters agree, and a cell where they do not is an error")


def test_pyproject_admits_every_torch_from_the_oldest_ci_tests_and_caps_none():
    tomllib = pytest.importorskip("tomllib")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_req = next(Requirement(d) for d in deps if Requirement(d).name == "torch")
    assert [v for v in ("2.3.1", "2.4.0", "2.4.1", "2.14.1", "2.15.0", "3.0.0") if torch_req.specifier.contains(v)] == [
        "2.4.0", "2.4.1", "2.14.1", "2.15.0", "3.0.0"]
    assert OLDEST_TORCH == "2.4"
    oldest_pins = (ROOT / ".ci" / "oldest.txt").read_text().split()
    assert "torch==2.4.1" in oldest_pins and "torchvision==0.19.1" in oldest_pins


def test_ci_oldest_venv_pins_every_dependency_at_its_lower_bound():
    """The lower bounds in pyproject.toml are what CI's oldest venv installs, so they are tested."""
    tomllib = pytest.importorskip("tomllib")
    bounds = {}
    for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        (spec,) = Requirement(dep).specifier
        bounds[Requirement(dep).name] = (spec.operator, Version(spec.version))
    pins = {}
    for line in (ROOT / ".ci" / "oldest.txt").read_text().splitlines():
        req = Requirement(line) if line and not line.startswith("#") else None
        if req is not None and req.name in bounds:
            (spec,) = req.specifier
            pins[req.name] = (spec.operator, Version(spec.version))
    assert set(pins) == set(bounds) and {op for op, _ in pins.values()} == {"=="}
    # torch>=2.4 is tested as its latest patch release, 2.4.1; every other bound exactly.
    assert pins.pop("torch")[1].release[:2] == bounds.pop("torch")[1].release == (2, 4)
    assert {name: (">=", version) for name, (_, version) in pins.items()} == bounds


@pytest.mark.parametrize("version, expected", [
    ("2.4.1", None), ("2.14.1+cu130", None), ("2.14.0a0+git123", None),
    ("2.15.0", UNTESTED), ("3.0.0", UNTESTED.replace("2.15.0", "3.0.0")),
])
def test_a_torch_newer_than_ci_tested_is_named_in_one_line(version, expected):
    assert TESTED_TORCH == "2.14"
    assert untested_torch(version) == expected


def test_env_json_says_which_torch_ci_tested_and_whether_this_one_is(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.14.1")
    assert {k: capture_env()[k] for k in ("torch_tested", "torch_untested")} == {
        "torch_tested": "2.4 to 2.14", "torch_untested": None}
    monkeypatch.setattr(torch, "__version__", "2.15.0")
    env = capture_env()
    assert (env["torch"], env["torch_untested"]) == ("2.15.0", UNTESTED)


def test_the_report_of_a_run_on_an_untested_torch_says_so(tmp_path):
    run = write_run(tmp_path / "run", make_rows(operators=("paca",), resolutions=(224, 448, 896), oom=()))
    assert 'id="torch-untested"' not in build_report(run).read_text()
    env = json.loads((run / "env.json").read_text())
    (run / "env.json").write_text(json.dumps({**env, "torch": "2.15.0", "torch_untested": UNTESTED}))
    html = build_report(run).read_text()
    header = html[:html.index("</header>")]
    assert f'<p class="failures" id="torch-untested">{UNTESTED}.</p>' in header


@pytest.fixture
def counters_disagree(monkeypatch):
    """fvcore finds one product MAC more than the primary counter."""
    real = flops.fvcore_count

    def off_by_one(module, inputs):
        total, products = real(module, inputs)
        return total + 1, products + 1

    monkeypatch.setattr(flops, "fvcore_count", off_by_one)


def test_counters_that_disagree_on_an_untested_torch_make_an_error_row(counters_disagree, monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.14.1")
    macs = count_target("operator", "paca", {}, 64, 64).flops.macs
    monkeypatch.setattr(torch, "__version__", "2.15.0")
    row = measure_cell(Cell("operator", "paca", {}, 64, 64, metrics=("flops", "params")))
    assert row["status"] == "error"
    assert row["message"] == (
        f"TargetError: the two FLOP counters disagree ({macs:,} MACs, fvcore {macs + 1:,}) "
        "on torch 2.15.0, newer than the newest torch pacabench was tested with (2.14): the count is not "
        "trusted; count with torch 2.4 to 2.14, or report it")


def test_on_a_tested_torch_a_disagreement_stays_a_reported_flag(counters_disagree, monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.4.1")
    row = measure_cell(Cell("operator", "paca", {}, 64, 64, metrics=("flops", "params")))
    assert (row["status"], row["flops_agree"], round((row["gmacs_fvcore"] - row["gmacs"]) * 1e9)) == ("ok", False, 1)


# Exact counts every supported torch must reproduce (measured on 2.4.1 and 2.14.1 alike).
@pytest.mark.parametrize("name, params, macs, by_class", [
    ("pacavit_tiny_p2cconv_100_0", 12_200_680, 3_237_438_208, (349_902_336, 2_869_359_872, 18_176_000)),
    ("pvt_v2_b1", 14_009_000, 2_120_272_384, (76_217_344, 2_032_138_240, 11_916_800)),
    ("det:maskrcnn:pacavit_tiny_p2cconv_100_0", 31_974_896, 75_603_424_768, (349_902_336, 75_234_292_736, 19_229_696)),
])
def test_counts_are_the_same_on_every_supported_torch(name, params, macs, by_class):
    counted = count_target("model", name, {}, 224, 224)
    assert (counted.params, counted.flops.macs, counted.flops.fvcore_macs, counted.flops.agree) == (
        params, macs, macs, True)
    assert tuple(counted.flops.by_class.values()) == by_class
