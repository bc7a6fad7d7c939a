"""Suite expectations against the verdicts: failures name the label, the verdict and why; the run's
analysis is computed once and read by everything."""
import pandas as pd

from pacabench.analysis import run_analysis
from pacabench.analysis.expectations import ExpectationFailure, check_expectations, expectation_items
from pacabench.analysis.results import label_rows
from pacabench.analysis.scaling import scaling_table
from synthetic_results import make_rows, write_run


def _check(df: pd.DataFrame, expectations: dict):
    return check_expectations(scaling_table(df), set(df["label"]), expectations)


def test_met_expectations_give_no_failures(tmp_path):
    analysis = run_analysis.analyse(write_run(tmp_path / "run"))
    assert analysis.failures == []
    assert analysis.expectations == {"op:paca": "linear", "op:swin": "linear", "op:pvt": "quadratic",
                                     "op:vit": "quadratic"}


def test_failures_list_label_expected_got_and_why():
    df = label_rows(make_rows(noise=0.0))
    failures = _check(df, {"op:paca": "quadratic", "op:vit": "quadratic", "op:nope": "linear"})
    why = "linear: no N² term; c0 + c1·N reproduces all 5 sizes exactly (56,064 MACs per token)"
    assert failures == [
        ExpectationFailure("op:paca", "gmacs", "quadratic", "linear", why),
        ExpectationFailure("op:nope", "gmacs", "linear", "no rows",
                           "no results carry this label; is it in the suite's targets?"),
    ]
    assert str(failures[0]) == f"op:paca: expected quadratic scaling of gmacs, got linear ({why})"


def test_inconclusive_fails_and_other_metrics_can_be_checked():
    df = label_rows(make_rows(operators=("paca",), resolutions=(224, 448), noise=0.0))
    [failure] = _check(df, {"op:paca": {"latency": "linear"}})
    assert (failure.metric, failure.got) == ("latency", "inconclusive")
    assert failure.why.startswith("inconclusive: latency at 2 size(s) spanning x4.0 in tokens; a verdict needs 5 "
                                  "spanning x4 or more; the machine: 20.0 GMAC/s at 224 px")
    assert str(failure).startswith("op:paca: expected linear scaling of latency, got inconclusive")


def test_memory_is_the_exact_prediction_where_a_run_has_it_else_the_measured_peak():
    df = label_rows(make_rows(operators=("paca",)).assign(peak_mem_mb=None))
    [failure] = _check(df, {"op:paca": {"memory": "linear"}})
    assert (failure.got, failure.why) == ("no values", "no memory values in this run; was it measured?")
    measured = label_rows(make_rows(operators=("vit",), noise=0.0))  # 20 MB + a quadratic term, measured
    assert _check(measured, {"op:vit": {"memory": "quadratic"}}) == []
    predicted = measured.assign(peak_mem_predicted_mb=20.0 + measured["tokens"] / 2**20)  # exact, linear
    [failure] = _check(predicted, {"op:vit": {"memory": "quadratic"}})
    assert (failure.metric, failure.got) == ("memory", "linear")


def test_expectations_are_one_verdict_or_a_verdict_per_metric():
    assert expectation_items({"a": "linear", "b": {"latency": "quadratic", "memory": "linear"}}) == [
        ("a", "gmacs", "linear"), ("b", "latency", "quadratic"), ("b", "memory", "linear")]


def test_a_run_is_loaded_and_fitted_once(tmp_path, monkeypatch):
    calls = {"load": 0, "fit": 0}
    real_load, real_table = run_analysis.load_run, run_analysis.scaling_table

    def counting_load(*args):
        calls["load"] += 1
        return real_load(*args)

    def counting_table(*args, **kwargs):
        calls["fit"] += 1
        return real_table(*args, **kwargs)

    monkeypatch.setattr(run_analysis, "load_run", counting_load)
    monkeypatch.setattr(run_analysis, "scaling_table", counting_table)
    from typer.testing import CliRunner

    from pacabench.cli import app

    run = write_run(tmp_path / "run")
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert calls == {"load": 1, "fit": 1}
    scaling = pd.read_csv(run / "scaling.csv")
    assert {"label", "metric", "verdict", "c0", "c1", "c2", "quadratic_share_max",
            "dominance_resolution"} <= set(scaling.columns)
    assert scaling.set_index(["label", "metric"]).loc[("op:vit", "gmacs"), "verdict"] == "quadratic"
