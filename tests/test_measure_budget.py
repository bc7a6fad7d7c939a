"""Time budgets: the hint is no part of the key; the first cell of a series is always timed; later
ones are predicted from the series' own cells (their growth exponent clipped to [1, 1.5]); a timed-out
cell stops its series; the skip message says which predictor it used."""
import dataclasses
import math

import pytest

from pacabench.measure.budget import MAX_EXPONENT, Observed, TimeHint, observed, predict_seconds, series_hint
from pacabench.measure.cell import Cell, measure_cell
from pacabench.measure.env import device_name

FAST = dict(warmup=1, min_repeats=2, min_time_s=0.0)
# op:paca at 64 px: counted in milliseconds on meta, timed in milliseconds for real.
TINY = dict(kind="operator", name="paca", params={}, height=64, width=64,
            metrics=("flops", "latency"), budget_seconds=1e-9, **FAST)


def hint(seconds, at_gmacs=1.0, exponent=1.0, device="cpu"):
    return TimeHint(seconds, at_gmacs, exponent, "extrapolated from the 32 px cell", device)


def test_time_hint_and_timing_pass_are_no_part_of_the_key():
    plain = Cell("operator", "paca", {"clusters": 49}, 224, 224)
    hinted = Cell("operator", "paca", {"clusters": 49}, 224, 224, time_hint=hint(0.41), timing_pass=2)
    assert hinted.key == plain.key == "paca@224x224-b1-float32-cpu-inference-5079eadbfaf1"  # as before hints
    assert hinted == plain and len({plain, hinted}) == 1


def test_predict_seconds_counts_the_memory_step_as_warmup_then_repeats():
    # 1 s a step: the memory step (1 warm-up) + max(3 repeats, 0.2 s) = 4 s; 2 warm-ups: 5 s
    assert predict_seconds(1.0, warmup=1, min_repeats=3, min_time_s=0.2) == 4.0
    assert predict_seconds(1.0, warmup=2, min_repeats=3, min_time_s=0.2) == 5.0
    assert predict_seconds(1.0, warmup=0, min_repeats=3, min_time_s=0.2) == 4.0
    # tiny steps: the minimum timing window dominates
    assert predict_seconds(1e-3, warmup=1, min_repeats=3, min_time_s=0.5) == pytest.approx(0.501)


def test_observed_rows_in_memory_and_read_back_from_csv():
    row = {"status": "ok", "gmacs": 2.0, "latency_ms_median": 820.0, "resolution_h": 896,
           "resolution_w": 896, "device_name": "cpu-x"}
    assert observed(row) == Observed(2.0, 0.82, "896 px", "cpu-x")
    as_csv = {k: str(v) for k, v in {**row, "resolution_w": 448}.items()}
    assert observed(as_csv) == Observed(2.0, 0.82, "896x448", "cpu-x")
    assert observed({**row, "status": "timeout", "latency_ms_median": None}) == Observed(2.0, None, "896 px", "cpu-x")
    assert observed({**row, "status": "skipped_budget"}) is None
    assert observed({**row, "latency_ms_median": None}) is None
    assert observed({**as_csv, "latency_ms_median": ""}) is None


def test_series_hint_extrapolates_the_last_cell_with_the_growth_of_the_last_two():
    assert series_hint([]) is None  # the first cell of a series: always timed
    one = series_hint([Observed(1.0, 0.5, "64 px", "cpu")])
    assert (one.seconds, one.at_gmacs, one.exponent) == (0.5, 1.0, 1.0)
    assert one.step_seconds(4.0) == 2.0 and one.source == "extrapolated from the 64 px cell"
    # step time x8 for GMACs x4 (a machine slowing down): exponent 1.5, the most extrapolated
    steep = series_hint([Observed(1.0, 0.5, "64 px", "cpu"), Observed(4.0, 4.0, "128 px", "cpu")])
    assert steep.exponent == MAX_EXPONENT and steep.step_seconds(16.0) == pytest.approx(4.0 * 8)
    assert steep.source == "extrapolated from the 128 px cell as GMACs^1.50"
    # a small cell's fixed overhead (time x1.2 for GMACs x4) never predicts sub-linear growth
    flat = series_hint([Observed(1.0, 1.0, "64 px", "cpu"), Observed(4.0, 1.2, "128 px", "cpu")])
    assert flat.exponent == 1.0 and flat.step_seconds(8.0) == pytest.approx(2.4)
    # noise between them: between 1 and 1.5, as measured
    mid = series_hint([Observed(1.0, 1.0, "64 px", "cpu"), Observed(4.0, 5.0, "128 px", "cpu")])
    assert mid.exponent == pytest.approx(math.log(5) / math.log(4))


def test_a_timed_out_cell_stops_its_series():
    stop = series_hint([Observed(1.0, 0.5, "64 px", "cpu"), Observed(4.0, None, "128 px", "cpu")])
    assert stop.timed_out and stop.source == "the 128 px cell of this series ran out of time"
    here = dataclasses.replace(stop, device_name=device_name("cpu"))
    row = measure_cell(Cell(**{**TINY, "budget_seconds": 100.0}, time_hint=here))
    assert row["status"] == "skipped_budget" and row["latency_ms_median"] is None
    assert row["message"] == "not timed: the 128 px cell of this series ran out of time"


def test_the_first_cell_of_a_series_is_timed_whatever_the_budget():
    row = measure_cell(Cell(**TINY))  # no hint: a budget of 1 ns does not stop it
    assert row["status"] == "ok" and row["latency_samples"] >= 2 and row["latency_ms_median"] > 0


def test_cell_over_budget_by_the_extrapolation_is_skipped_with_its_source():
    row = measure_cell(Cell(**{**TINY, "budget_seconds": 1.0}, time_hint=hint(1e4, device=device_name("cpu"))))
    step = 1e4 * row["gmacs"]
    seconds = predict_seconds(step, warmup=1, min_repeats=2, min_time_s=0.0)
    assert row["status"] == "skipped_budget" and row["latency_ms_median"] is None
    assert row["message"] == (f"predicted {seconds:.1f} s > budget 1 s (extrapolated from the 32 px "
                              f"cell: {step:.3g} s a pass of {row['gmacs']:.2f} GMACs)")


def test_cell_under_budget_by_the_extrapolation_runs_and_records_its_load():
    row = measure_cell(Cell(**{**TINY, "budget_seconds": 1.0}, time_hint=hint(1e-6, device=device_name("cpu"))))
    assert row["status"] == "ok" and row["latency_samples"] >= 2 and row["latency_ms_median"] > 0
    assert row["latency_passes_ms"] == [row["latency_ms_median"]]
    assert row["matmul_gflops_before"] > 0 and row["matmul_gflops_after"] > 0 and row["load_avg_1m"] >= 0


def test_a_hint_from_another_device_is_ignored_and_the_cell_timed():
    row = measure_cell(Cell(**{**TINY, "budget_seconds": 1.0}, time_hint=hint(1e4, device="some other CPU")))
    assert row["status"] == "ok" and row["latency_ms_median"] > 0
