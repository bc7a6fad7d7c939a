"""Power-law fits and verdicts on synthetic data with known exponents."""
import numpy as np
import pandas as pd
import pytest

from pacabench.analysis.results import label_rows
from pacabench.analysis.scaling import fit_power_law, fit_upper_half, scaling_table, upper_half, verdict
from synthetic_results import make_rows

TOKENS = np.array([(r // 4) ** 2 for r in (224, 448, 672, 896, 1344, 1792, 2048)], dtype=float)


def noisy(k, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return 3e-4 * TOKENS ** k * np.exp(rng.normal(0, sigma, TOKENS.size))


def test_exact_power_law_recovers_exponent_and_scale():
    fit = fit_power_law(TOKENS, 2.5 * TOKENS ** 1.3)
    assert fit.k == pytest.approx(1.3, abs=1e-12)
    assert fit.a == pytest.approx(2.5, rel=1e-9)
    assert (fit.k_low, fit.k_high) == pytest.approx((1.3, 1.3), abs=1e-9)
    assert (fit.n_points, fit.n_min, fit.n_max) == (7, 3136, 262144)


@pytest.mark.parametrize("k, expected", [(1.0, "linear"), (2.0, "quadratic"), (1.5, "inconclusive")])
def test_noisy_fits_give_the_verdict_of_their_exponent(k, expected):
    fit = fit_upper_half(TOKENS, noisy(k, sigma=0.05))
    assert fit.k == pytest.approx(k, abs=0.15)
    assert fit.k_low < k < fit.k_high
    assert verdict(fit).verdict == expected


def test_between_bands_says_why():
    result = verdict(fit_upper_half(TOKENS, noisy(1.5, sigma=0.0)))
    assert result.verdict == "inconclusive"
    assert result.reason == ("k=1.50 [1.50, 1.50] between the linear (1.25) and quadratic (1.7) bands")


def test_two_points_are_too_few():
    fit = fit_power_law(TOKENS[:2], TOKENS[:2] ** 2)
    assert np.isnan(fit.k_low)
    assert verdict(fit).reason == "too few points: 2 < 3 resolutions with a value"
    assert verdict(None).reason == "too few points: 0 < 3 resolutions with a value"


def test_noise_that_cannot_rule_out_the_other_band_is_inconclusive():
    result = verdict(fit_upper_half(TOKENS, noisy(1.0, sigma=0.3, seed=0)))
    assert result.verdict == "inconclusive"
    assert result.reason == ("too noisy: k=1.19 [0.44, 1.94], the 95% CI reaches the quadratic band (>= 1.7)")


def test_upper_half_takes_the_largest_log_half_and_at_least_three_points():
    assert upper_half(TOKENS).tolist() == [False, False, False, True, True, True, True]
    few = np.array([10.0, 20.0, 10000.0])
    assert upper_half(few).tolist() == [True, True, True]


def test_pvt_with_real_formula_is_quadratic_over_the_upper_half_only():
    """PVTv2 SRA at C=96, R=8, stride 4: linear projections dominate at small N."""
    c, r = 96, 8
    macs = TOKENS * c * c * (3 + 2 / r**2) + 2 * TOKENS * (TOKENS / r**2) * c
    full, upper = fit_power_law(TOKENS, macs), fit_upper_half(TOKENS, macs)
    assert full.k == pytest.approx(1.72, abs=0.01)
    assert upper.k == pytest.approx(1.91, abs=0.01)
    assert verdict(upper).verdict == "quadratic"


def test_scaling_table_uses_counts_of_oom_cells_but_not_their_timings():
    table = scaling_table(label_rows(make_rows())).set_index(["series", "metric"])
    assert table.loc[("op:vit", "gmacs"), "points"] == 5
    assert table.loc[("op:vit", "latency_ms_median"), "points"] == 4
    verdicts = table.loc[(slice(None), "gmacs"), "verdict"].droplevel("metric").to_dict()
    assert verdicts == {"op:paca": "linear", "op:swin": "linear", "op:pvt": "quadratic", "op:vit": "quadratic"}


def test_series_split_a_label_measured_at_two_batch_sizes():
    df = make_rows(operators=("paca",), oom=())
    df2 = df.assign(batch=2, gmacs=df["gmacs"] * 2)
    labelled = label_rows(pd.concat([df, df2], ignore_index=True))
    assert sorted(labelled["series"].unique()) == ["op:paca [batch=1]", "op:paca [batch=2]"]
    table = scaling_table(labelled, metrics=("gmacs",))
    assert table["points"].tolist() == [5, 5]


def test_resolution_sweep_operator_formulas_meet_the_suite_expectations():
    """The analytic MACs of the shipped resolution sweep's operators get the verdicts the suite expects."""
    from importlib.resources import files

    from pacabench.operators import OPERATORS
    from pacabench.runner.suite import parse_suite

    suite = parse_suite((files("pacabench.suites") / "resolution_sweep.yaml").read_text())
    checked = {}
    for entry in suite.targets:
        if entry.kind != "operator":
            continue
        _, name, params = entry.spec
        spec, sizes = OPERATORS[name], suite.sizes_for(entry)
        tokens = [np.prod(spec.grid(h, w, **params)) for h, w in sizes]
        macs = [spec.cost(h, w, 1, **params)["macs"] for h, w in sizes]
        checked[entry.display_label] = verdict(fit_upper_half(tokens, macs)).verdict
    assert checked == suite.expectations
