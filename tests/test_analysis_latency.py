"""The latency verdict on simulated series with known truth: a cache step that levels off is linear
and named, growth in proportion to N is quadratic, one slow last cell is no growth, and how often each
verdict is right under 5-20% noise and load bursts (the README's table) stays where it is documented."""
import json

import numpy as np
import pandas as pd
import pytest

from pacabench.analysis.latency import may_be_bursts, read_latency
from pacabench.analysis.scaling import scaling_table
from simulated_latency import (COUNTED_TRUTHS, OPERATOR_TOKENS, TRUTHS, counted_hit_rates, hit_rates,
                               right_and_wrong)

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
# The same for the reading against the counts (a backbone at the sweep's sizes, 80 trials of seed 0).
COUNTED_FLOORS = {
    ("time follows counts with an N² term of 30%", 0.05): (0.65, 0.35),
    ("time follows counts with an N² term of 50%", 0.05): (0.85, 0.12),
    ("time follows counts with an N² term of 50%", 0.10): (0.65, 0.30),
    ("linear time, counts with an N² term of 30%", 0.05): (0.95, 0.04),
    ("linear time, counts with an N² term of 30%", 0.20): (0.85, 0.12),
    ("linear time with a cache step, counts with an N² term of 30%", 0.10): (0.90, 0.05),
}


def _meets_floor(truths, rates_of, floors, name, noise):
    truth = next(t for t in truths if t.name == name)
    rates = rates_of(truth, noise, trials=80)
    right, wrong = right_and_wrong(truth, rates)
    least_right, most_wrong = floors[name, noise]
    assert right >= least_right and wrong <= most_wrong, dict(rates)


@pytest.mark.parametrize(("truth", "noise"), FLOORS, ids=lambda value: str(value))
def test_hit_rates_on_simulated_series(truth, noise):
    _meets_floor(TRUTHS, hit_rates, FLOORS, truth, noise)


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


@pytest.mark.parametrize(("truth", "noise"), COUNTED_FLOORS, ids=lambda value: str(value))
def test_hit_rates_read_against_counts(truth, noise):
    _meets_floor(COUNTED_TRUTHS, counted_hit_rates, COUNTED_FLOORS, truth, noise)


# PVTv2-b1 from 224 to 896 px on one core of a 2-core CPU with the other core busy (the benchmark's
# loaded run): time per token rises x1.45 where the exact GMACs per token rise x1.54.
PVT_TOKENS = np.array([3136, 4096, 5184, 6400, 7744, 12544, 18496, 28224, 50176])
PVT_GMACS = np.array([2.120272384, 2.799652864, 3.586886144, 4.488448, 5.511576064, 9.394161664, 14.704536064,
                      24.566004224, 52.208840704])
PVT_PASSES = [[130.4, 136.8], [176.2, 167.3], [235.5, 224.6], [270.8, 281.9], [315.0, 345.6], [567.0, 454.6],
              [942.7, 958.3], [1439.9, 1439.3], [3018.3, 3186.3]]


def _pvt(passes):
    rows = _series("pvt_v2_b1", PVT_TOKENS, [float(np.median(p)) for p in passes], PVT_GMACS)
    rows["latency_passes_ms"] = [json.dumps(p) for p in passes]
    return scaling_table(rows, metrics=("gmacs", "latency_ms_median")).set_index("metric").loc["latency_ms_median"]


def test_time_that_grows_as_the_counted_work_does_confirms_a_modest_n2_term():
    assert read_latency(PVT_TOKENS, [np.median(p) for p in PVT_PASSES], may_be_bursts(PVT_PASSES)).verdict == "inconclusive"
    latency = _pvt(PVT_PASSES)
    assert latency["verdict"] == "quadratic"
    assert latency["reason"].startswith(
        "quadratic: time per token grows as the counted work per token does (x1.45 against x1.54 from 224 px to "
        "896 px): the exact GMACs at one rate plus a fixed overhead fit it clearly better than a flat time per "
        "token, and no step that levels off fits better; it confirms the N² term of the counts (37% of the GMACs "
        "at 896 px); time alone: ")


def test_a_cell_whose_passes_agree_is_no_burst_and_one_whose_passes_differ_may_be():
    assert may_be_bursts([[1.0], [1.0, 1.2], [1.0, 1.3], [], [2.0, None, 1.9]]).tolist() == [True, False, True, True, False]
    # the same 896 px median from two passes that disagree: it may be a burst, is left out, and then
    # nothing confirms the growth
    differ = [*PVT_PASSES[:-1], [2600.0, 3604.6]]
    assert np.median(differ[-1]) == pytest.approx(np.median(PVT_PASSES[-1]))
    assert _pvt(differ)["verdict"] != "quadratic"


def test_flat_time_over_quadratic_counts_is_linear_and_says_so():
    latency = _pvt([[t] for t in 0.0425 * PVT_TOKENS])  # 42.5 us a token at every size
    assert latency["verdict"] == "linear"
    assert "; the time does not show the N² term of the counts (37% of the GMACs at 896 px) at these sizes" in latency["reason"]
