"""Suite expectations against the verdicts: failures name the label, the verdict and why."""
from pacabench.analysis.expectations import ExpectationFailure, check_expectations
from pacabench.analysis.results import label_rows
from synthetic_results import make_rows, write_run


def test_met_expectations_give_no_failures(tmp_path):
    run = write_run(tmp_path / "run")
    assert check_expectations(run, {"op:paca": "linear", "op:swin": "linear", "op:pvt": "quadratic",
                                    "op:vit": "quadratic"}) == []


def test_failures_list_label_expected_got_and_why():
    df = label_rows(make_rows(noise=0.0))
    failures = check_expectations(df, {"op:paca": "quadratic", "op:vit": "quadratic", "op:nope": "linear"})
    assert failures == [
        ExpectationFailure("op:paca", "gmacs", "quadratic", "linear",
                           "k=1.00 [1.00, 1.00] within the linear band 0.75-1.25"),
        ExpectationFailure("op:nope", "gmacs", "linear", "no rows",
                           "no results carry this label; is it in the suite's targets?"),
    ]
    assert str(failures[0]) == ("op:paca: expected quadratic scaling of gmacs, got linear "
                                "(k=1.00 [1.00, 1.00] within the linear band 0.75-1.25)")


def test_inconclusive_fails_and_other_metrics_can_be_checked():
    df = label_rows(make_rows(operators=("paca",), resolutions=(224, 448), noise=0.0))
    [failure] = check_expectations(df, {"op:paca": "linear"}, metric="latency_ms_median")
    assert (failure.metric, failure.got) == ("latency_ms_median", "inconclusive")
    assert failure.why == "too few points: 2 < 3 resolutions with a value"


def test_a_metric_the_run_did_not_measure_is_named():
    df = label_rows(make_rows(operators=("paca",)).assign(peak_mem_mb=None))
    [failure] = check_expectations(df, {"op:paca": "linear"}, metric="peak_mem_mb")
    assert (failure.got, failure.why) == ("no values", "no peak_mem_mb values in this run; was it measured?")
