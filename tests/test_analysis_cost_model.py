"""Cost models: exact rational fits of counts, NNLS + bootstrap of measured values, dominance."""
import math

import numpy as np
import pytest

from pacabench.analysis.cost_model import fit_counts, fit_measured, per_token_slope

TOKENS = [(r // 4) ** 2 for r in (224, 448, 672, 896, 1344)]


def test_exact_counts_give_exact_coefficients_and_zero_residual():
    model = fit_counts(TOKENS, [7 + 11 * n + 3 * n * n for n in TOKENS])
    assert (model.c0, model.c1, model.c2) == (7.0, 11.0, 3.0)
    assert model.exact and model.max_residual == 0.0 and model.has_quadratic_term()


def test_a_linear_count_has_c2_exactly_zero_even_when_tiny_terms_are_present():
    """A power law cannot tell this from a small N^2; the exact model can."""
    linear = fit_counts(TOKENS, [10**12 + 5 * n for n in TOKENS])
    tiny = fit_counts(TOKENS, [10**12 + 5 * n + n * n // 3136 for n in TOKENS])  # exact: n is a multiple of 3136
    assert linear.c2 == 0.0 and not linear.has_quadratic_term()
    assert tiny.c2 == pytest.approx(1 / 3136) and tiny.has_quadratic_term() and tiny.exact


def test_counts_that_are_no_polynomial_leave_a_residual():
    padded = [n + 49 * math.ceil(n / 49) for n in (3136 + 64 * i for i in range(5))]
    model = fit_counts([3136 + 64 * i for i in range(5)], padded)
    assert not model.exact and model.max_residual > 0


def test_fewer_than_three_sizes_have_no_model():
    assert fit_counts([100, 200], [1, 2]) is None
    assert fit_counts([100, 100, 100], [1, 1, 1]) is None


def test_float_precision_of_stored_counts_is_not_a_residual():
    """Counts above 2**53 / 1e9 GMACs read back from floats are off by a few MACs."""
    tokens = [10**6, 2 * 10**6, 4 * 10**6, 8 * 10**6]
    exact = [3 * 10**9 * n for n in tokens]                     # linear, up to 2.4e16 MACs
    stored = [round((c / 1e9) * 1e9) for c in exact]            # through float GMACs
    model = fit_counts(tokens, stored, relative_precision=4.5e-16)
    assert model.exact and not model.has_quadratic_term()


def test_dominance_is_where_the_square_term_passes_the_rest():
    model = fit_counts(TOKENS, [10**6 + 400 * n + n * n for n in TOKENS])
    n = model.dominance_tokens()
    assert n * n == pytest.approx(10**6 + 400 * n)
    assert fit_counts(TOKENS, [5 + n for n in TOKENS]).dominance_tokens() is None


def _noisy(values, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return [v * math.exp(rng.normal(0, sigma)) for v in values]


def test_measured_linear_cost_rules_out_a_square_term():
    model = fit_measured(TOKENS, _noisy([20 + 0.01 * n for n in TOKENS], 0.03))
    assert model.share_high < 0.10 and model.share_low >= 0.0


def test_measured_quadratic_cost_is_bounded_away_from_zero():
    values = _noisy([20 + 0.01 * n + 5e-7 * n * n for n in TOKENS], 0.03)
    model = fit_measured(TOKENS, values)
    true_share = 5e-7 * TOKENS[-1] ** 2 / (20 + 0.01 * TOKENS[-1] + 5e-7 * TOKENS[-1] ** 2)
    assert model.share_low > 0.10 and model.share_low < true_share < model.share_high


def test_measured_fit_is_deterministic_and_needs_four_sizes():
    values = _noisy([20 + 0.01 * n for n in TOKENS], 0.2)
    assert fit_measured(TOKENS, values) == fit_measured(TOKENS, values)
    assert fit_measured(TOKENS[:3], values[:3]) is None


def test_per_token_slope_is_zero_for_linear_and_one_for_square():
    assert per_token_slope(TOKENS, [3 * n for n in TOKENS]) == pytest.approx(0.0, abs=1e-12)
    assert per_token_slope(TOKENS, [3 * n * n for n in TOKENS]) == pytest.approx(1.0)


def test_bootstrap_interval_coverage_is_what_the_docs_say():
    """6 sizes, 10% noise, a 15% N^2 share: the nominal 95% interval holds it at least 80% of the time."""
    tokens = [(r // 4) ** 2 for r in (224, 448, 672, 896, 1120, 1344)]
    b = 0.15 / 0.85 * 0.01 / tokens[-1]
    held = 0
    for seed in range(40):
        model = fit_measured(tokens, _noisy([0.01 * n + b * n * n for n in tokens], 0.1, seed))
        held += model.share_low <= 0.15 <= model.share_high
    assert held / 40 >= 0.8
