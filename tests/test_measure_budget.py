"""Time budgets: the hint is no part of the key; the prediction uses the hint (or the device rate),
skips what is over the budget, runs what is under it and says which predictor it used."""
import pytest

from pacabench.measure import budget
from pacabench.measure.budget import (EFFICIENCY, TimeHint, observed_hint, predict_seconds, rate_hint,
                                      series_hint)
from pacabench.measure.cell import Cell, measure_cell
from pacabench.measure.env import device_name

FAST = dict(warmup=1, min_repeats=2, min_time_s=0.0)
# op:paca at 64 px: counted in milliseconds on meta, timed in milliseconds for real.
TINY = dict(kind="operator", name="paca", params={}, height=64, width=64,
            metrics=("flops", "latency"), budget_seconds=1.0, **FAST)


def test_time_hint_is_no_part_of_the_key():
    plain = Cell("operator", "paca", {"clusters": 49}, 224, 224)
    hinted = Cell("operator", "paca", {"clusters": 49}, 224, 224,
                  time_hint=TimeHint(0.41, "extrapolated from the 160 px cell", "cpu"))
    assert hinted.key == plain.key == "paca@224x224-b1-float32-cpu-inference-5079eadbfaf1"  # as before hints
    assert hinted == plain and len({plain, hinted}) == 1


def test_predict_seconds_counts_warmup_memory_step_and_repeats():
    # 0.5 s/GMAC x 2 GMACs = 1 s a step: 1 warm-up + 1 memory step + max(3 repeats, 0.2 s) = 5 s
    assert predict_seconds(0.5, 2.0, warmup=1, min_repeats=3, min_time_s=0.2) == 5.0
    # tiny steps: the minimum timing window dominates
    assert predict_seconds(1e-3, 1.0, warmup=1, min_repeats=3, min_time_s=0.5) == pytest.approx(0.502)


def test_rate_hint_applies_the_efficiency_factor_and_training_passes(monkeypatch):
    monkeypatch.setitem(budget._GFLOPS, "cpu", 20.0)
    import torch

    inference = rate_hint(torch.device("cpu"), "inference", "cpu-x")
    assert inference.seconds_per_gmac == pytest.approx(2 / (20.0 * EFFICIENCY))
    assert inference.source == f"device rate 20 GFLOP/s float32 matmul x {EFFICIENCY:g} efficiency"
    train = rate_hint(torch.device("cpu"), "train", "cpu-x")
    assert train.seconds_per_gmac == pytest.approx(3 * inference.seconds_per_gmac)
    assert train.source.endswith(" x 3 passes per training step")


def test_observed_hint_from_rows_in_memory_and_read_back_from_csv():
    row = {"status": "ok", "gmacs": 2.0, "latency_ms_median": 820.0, "resolution_h": 896,
           "resolution_w": 896, "device_name": "cpu-x"}
    assert observed_hint(row) == TimeHint(0.41, "extrapolated from the 896 px cell", "cpu-x")
    as_csv = {k: str(v) for k, v in {**row, "resolution_w": 448}.items()}
    assert observed_hint(as_csv) == TimeHint(0.41, "extrapolated from the 896x448 cell", "cpu-x")
    assert observed_hint({**row, "status": "skipped_budget"}) is None
    assert observed_hint({**row, "latency_ms_median": None}) is None
    assert observed_hint({**as_csv, "latency_ms_median": ""}) is None


def test_series_hint_is_the_slowest_of_the_last_two_cells():
    hints = [TimeHint(s, f"cell {i}", "cpu") for i, s in enumerate([1.5, 0.3, 0.2, 0.25])]
    assert series_hint([]) is None
    assert series_hint(hints[:1]) == hints[0]
    assert series_hint(hints[:3]) == hints[1]  # the small cell's overhead (1.5) no longer counts
    assert series_hint(hints) == hints[3]


def test_cell_over_budget_by_the_extrapolation_is_skipped_with_its_source():
    hint = TimeHint(1e4, "extrapolated from the 32 px cell", device_name("cpu"))
    row = measure_cell(Cell(**TINY, time_hint=hint))
    seconds = predict_seconds(1e4, row["gmacs"], warmup=1, min_repeats=2, min_time_s=0.0)
    assert row["status"] == "skipped_budget" and row["latency_ms_median"] is None
    assert row["message"] == (f"predicted {seconds:.1f} s > budget 1 s (extrapolated from the 32 px "
                              f"cell: 1e+04 s/GMAC, {row['gmacs']:.2f} GMACs per pass)")


def test_cell_under_budget_by_the_extrapolation_runs():
    hint = TimeHint(1e-6, "extrapolated from the 32 px cell", device_name("cpu"))
    row = measure_cell(Cell(**TINY, time_hint=hint))
    assert row["status"] == "ok" and row["latency_samples"] >= 2 and row["latency_ms_median"] > 0


def test_hint_from_another_device_falls_back_to_this_devices_rate(monkeypatch):
    monkeypatch.setitem(budget._GFLOPS, "cpu", 1e-6)  # absurdly slow: anything is over budget
    elsewhere = TimeHint(1e-6, "extrapolated from the 32 px cell", "some other CPU")
    row = measure_cell(Cell(**TINY, time_hint=elsewhere))
    assert row["status"] == "skipped_budget"
    assert (f"(device rate 0 GFLOP/s float32 matmul x {EFFICIENCY:g} efficiency: "
            f"{2 / (1e-6 * EFFICIENCY):.3g} s/GMAC, ") in row["message"]
