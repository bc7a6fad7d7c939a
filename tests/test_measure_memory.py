"""Peak memory: the CPU live-tensor tracker sees allocations and frees exactly; CUDA peaks reset."""
import pytest
import torch
from torch import nn

from pacabench.measure import memory as mem
from pacabench.measure.memory import MB, CudaPeak, LiveTensorTracker, resident_bytes, tracked_peak


def _peak(step) -> int:
    tracker = LiveTensorTracker()
    with tracker:
        step()
    return tracker.peak_bytes


def test_known_allocation_is_reported_exactly():
    assert _peak(lambda: torch.empty(MB // 4)) == MB  # 2**18 float32


def test_frees_are_seen_so_the_peak_is_a_maximum_not_a_sum():
    def free_then_allocate():
        a = torch.zeros(MB // 4)       # 1 MiB
        del a
        b = torch.zeros(MB // 8)       # 0.5 MiB, after the first was freed
        return b

    def keep_both():
        a = torch.zeros(MB // 4)
        b = torch.zeros(MB // 8)
        return a, b

    assert _peak(free_then_allocate) == MB
    assert _peak(keep_both) == MB + MB // 2


def test_views_and_in_place_ops_allocate_nothing():
    x = torch.zeros(1024)

    def step():
        y = x.view(32, 32).t()[::2]
        y.add_(1)
        x.mul_(2)

    assert _peak(step) == 0


def test_gross_adds_resident_weights_and_inputs_counted_once():
    w = torch.zeros(1000)
    alias = w.view(10, 100)
    assert resident_bytes([w, alias, torch.zeros(10)]) == 4000 + 40
    stats = tracked_peak(lambda: torch.empty(MB // 4), resident=4000, device="cpu")
    assert stats.peak_net_mb == 1.0
    assert stats.peak_mb == (MB + 4000) / MB
    assert stats.method == "cpu_live_tensors" and stats.peak_reserved_mb is None


def test_meta_estimate_matches_cpu_measurement():
    """The estimate used for cells too large to run is the same tracker on shapes alone."""
    def build(device):
        torch.manual_seed(0)
        with torch.device(device):
            model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.GELU(), nn.Flatten(),
                                  nn.Linear(16 * 32 * 32, 10))
            return model, torch.randn(2, 3, 32, 32)

    peaks = {}
    for device in ("cpu", "meta"):
        model, x = build(device)
        with torch.no_grad():
            peaks[device] = tracked_peak(lambda: model(x), 0, device).peak_net_mb
    assert peaks["meta"] == peaks["cpu"]
    assert peaks["cpu"] >= 2 * 16 * 32 * 32 * 4 * 2 / MB  # conv output and GELU output alive together


def test_available_ram_is_positive():
    assert mem.available_ram_mb() > 0


@pytest.mark.cuda
def test_cuda_peak_is_reset_and_net_of_resident_tensors():
    resident = torch.zeros(MB, device="cuda")  # 4 MiB already there  # noqa: F841
    with CudaPeak() as first:
        torch.empty(4 * MB // 4, device="cuda")  # 4 MiB, freed at once
    with CudaPeak() as second:
        torch.empty(MB // 4, device="cuda")      # 1 MiB: must not see the earlier 4 MiB peak
    assert first.stats.peak_net_mb == 4.0
    assert second.stats.peak_net_mb == 1.0
    assert second.stats.peak_mb == 5.0
    assert second.stats.peak_reserved_mb >= second.stats.peak_mb
    assert second.stats.method == "cuda_max_memory_allocated"
