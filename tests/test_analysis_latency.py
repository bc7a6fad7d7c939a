"""The latency verdict on simulated series with known truth: a cache step that levels off is linear
and named, growth in proportion to N is quadratic, one slow last cell is no growth, and how often each
verdict is right under 5-20% noise and load bursts (the README's table) stays where it is documented."""
import numpy as np
import pandas as pd
import pytest

from pacabench.analysis.latency import read_latency
from pacabench.analysis.scaling import scaling_table
from simulated_latency import OPERATOR_TOKENS, TRUTHS, hit_rates

N = np.array(OPERATOR_TOKENS, dtype=float)


def test_a_cache_step_that_levels_off_is_linear_and_named():
    # op:paca on a 2-core CPU: 1.9 us a token up to 896 px, then about 4.3 (the figures)
    per_token = np.array([1.92, 1.87, 1.63, 1.82, 1.83, 3.84, 5.05, 4.34])
    reading = read_latency(N, per_token * N)
    assert reading.verdict == "linear"
    assert (reading.step.before, reading.step.at) == (50176, 102400)
    assert "in one step of x2.32 between 50,176 and 102,400 tokens that then levels off" in reading.why


def test_growth_in_proportion_to_n_is_quadratic():
    reading = read_latency(N, N * (1 + 3 * N / N.max()))  # 75% of the time at the largest size
    assert reading.verdict == "quadratic" and reading.growth_share == pytest.approx(0.75, abs=1e-6)
    assert "keeps growing with N, 75% of the time at the largest size" in reading.why


def test_flat_time_per_token_is_linear():
    assert read_latency(N, 2.0 * N + 50.0).verdict == "linear"


def test_one_slow_cell_at_the_end_is_not_growth():
    t = 2.0 * N
    t[-1] *= 2.5
    assert read_latency(N, t).verdict != "quadratic"


def test_a_burst_in_the_middle_does_not_make_growth():
    t = 2.0 * N
    t[4] *= 3.0
    assert read_latency(N, t).verdict == "linear"


def test_too_few_sizes_or_too_narrow_a_span_is_inconclusive():
    assert read_latency(N[:4], N[:4]).why == ("latency at 4 size(s) spanning x8.2 in tokens; a verdict needs 5 "
                                              "spanning x4 or more")
    narrow = np.array([1000, 1200, 1400, 1600, 1800], dtype=float)
    assert read_latency(narrow, narrow).verdict == "inconclusive"


# Floors under the documented rates (`python tests/simulated_latency.py` prints them; 400 trials,
# seed 0): what must keep holding if the statistic changes. (right at least, wrong at most), on 80
# trials of the same seed.
FLOORS = {
    ("linear", 0.05): (0.95, 0.02), ("linear", 0.20): (0.93, 0.02),
    ("linear with a cache step", 0.05): (0.95, 0.03), ("linear with a cache step", 0.20): (0.70, 0.04),
    ("N² dominates (90%)", 0.05): (0.95, 0.02), ("N² dominates (90%)", 0.10): (0.93, 0.03),
    ("N² dominates (90%)", 0.20): (0.75, 0.08),
    ("hidden N² term, 30%", 0.05): (0.20, 0.35),
}


@pytest.mark.parametrize(("truth", "noise"), FLOORS, ids=lambda value: str(value))
def test_hit_rates_on_simulated_series(truth, noise):
    truth = next(t for t in TRUTHS if t.name == truth)
    rates = hit_rates(truth, noise, trials=80)
    right, wrong = rates[truth.verdict], 1 - rates[truth.verdict] - rates["inconclusive"]
    least_right, most_wrong = FLOORS[truth.name, noise]
    assert right >= least_right and wrong <= most_wrong, dict(rates)


def _series(label, tokens, latency, gmacs, bytes_written=None):
    rows = pd.DataFrame({"label": label, "series": label, "kind": "operator", "batch": 1, "dtype": "float32",
                         "device": "cpu", "mode": "inference", "status": "ok", "tokens": tokens,
                         "resolution_h": 4 * np.sqrt(tokens), "resolution_w": 4 * np.sqrt(tokens),
                         "latency_ms_median": latency, "gmacs": gmacs})
    if bytes_written is not None:
        rows["bytes_written"] = bytes_written
    return rows


def test_linear_counts_with_growing_latency_read_as_a_machine_that_slows_down():
    tokens = np.array([3136, 6400, 12544, 25600, 50176, 102400])
    df = _series("op:x", tokens, tokens * (1 + 3 * tokens / tokens.max()) / 1e3, tokens * 7e-5)
    table = scaling_table(df, metrics=("gmacs", "latency_ms_median")).set_index("metric")
    latency = table.loc["latency_ms_median"]
    assert latency["verdict"] == "linear" and latency["method"] == "time per token, read against the counts"
    assert latency["reason"].startswith(
        "linear: linear work on a machine that slows down: the N² term of the exact counts carries 0.0% of "
        "the GMACs at 1280 px, so the time's own growth is the machine's (achieved GMAC/s x0.27); time: time "
        "per token changes x3.66 from the smallest size to the largest: it keeps growing with N")
    assert latency["achieved_change"] == pytest.approx(1.0919 / 4, abs=1e-4)


def test_growing_latency_over_quadratic_work_confirms_it_and_bytes_can_carry_the_square():
    tokens = np.array([3136, 6400, 12544, 25600, 50176, 102400])
    time = tokens * (1 + 3 * tokens / tokens.max()) / 1e3
    quadratic = _series("op:x", tokens, time, tokens * 7e-5 + tokens ** 2 * 2e-9)
    reason = scaling_table(quadratic, metrics=("gmacs", "latency_ms_median")).set_index("metric").loc[
        "latency_ms_median", "reason"]
    assert reason.startswith("quadratic: ") and "; it confirms the N² term of the counts (75% of the GMACs at 1280 px)" in reason
    # MACs miss the N² op, the bytes it writes do not: quadratic latency and quadratic bytes
    missed = _series("op:x", tokens, time, tokens * 7e-5, bytes_written=tokens * 1000 + tokens ** 2 * 8)
    table = scaling_table(missed, metrics=("gmacs", "bytes_written", "latency_ms_median")).set_index("metric")
    assert table.loc["bytes_written", "verdict"] == table.loc["latency_ms_median", "verdict"] == "quadratic"
    assert "it confirms the N² term of the counts (100% of the bytes written at 1280 px)" in table.loc[
        "latency_ms_median", "reason"]
