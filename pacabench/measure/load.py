"""The machine's load around a timed cell: what else ran while it was measured.

Recorded with every timed cell so a reader (and the report) can tell a slow size from a busy
machine: the 1-minute load average against the cores, the share of CPU time the hypervisor stole
(``/proc/stat``'s ``steal``, where the kernel reports it), and the device's float32 matmul rate just
before and just after the timed steps (a short probe: a rate that drops between the two saw load).
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

_MATMUL_N = 512
_PROBE_S = 0.03


@dataclass(frozen=True)
class Load:
    load_avg_1m: float | None
    cpu_steal_pct: float | None
    matmul_gflops_before: float
    matmul_gflops_after: float


def matmul_gflops(device: torch.device, seconds: float = _PROBE_S) -> float:
    """Float32 512x512 matmul rate (GFLOP/s): the median of repeated products over ``seconds``."""
    a = torch.randn(_MATMUL_N, _MATMUL_N, device=device)
    a @ a  # warm-up: thread pool, cuBLAS handle
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < 5 or time.perf_counter() < deadline:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        a @ a
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        samples.append(time.perf_counter() - start)
    return 2 * _MATMUL_N**3 / statistics.median(samples) / 1e9


def _cpu_times() -> tuple[int, int] | None:
    """(total, steal) jiffies of all CPUs, or None where /proc/stat has no steal column."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:]]
    return sum(values[:8]), values[7]


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def measured_under(run: Callable[[], object], device: torch.device) -> tuple[object, Load]:
    """Run ``run`` between two matmul probes; its result and the load it ran under."""
    before = matmul_gflops(device)
    times = _cpu_times()
    result = run()
    after_times = _cpu_times()
    after = matmul_gflops(device)
    steal = None
    if times is not None and after_times is not None and after_times[0] > times[0]:
        steal = 100.0 * (after_times[1] - times[1]) / (after_times[0] - times[0])
    return result, Load(_load_average(), steal, before, after)
