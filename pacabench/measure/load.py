"""The machine's load around a timed cell: what else ran while it was measured.

Recorded with every timed cell so a reader (and the report) can tell a slow size from a busy
machine: the 1-minute load average against the cores, the share of CPU time the hypervisor stole
(``/proc/stat``'s ``steal``, where the kernel reports it), and the device's float32 matmul rate just
before and just after the timed steps (a short probe: a rate that drops between the two saw load).

:func:`free_cores` says how many of this process's CPUs other work leaves idle, so a sweep times its
cells with that many threads: a thread that shares its core with another process makes every
parallel region wait for it, which slows small sizes far more than large ones and bends the growth
of time with size (the latency verdict) as no load on free cores does.
"""
from __future__ import annotations

import math
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


def _proc_stat() -> dict[str, list[int]]:
    """The eight CPU time columns of /proc/stat (user ... steal, in jiffies) per line: ``cpu`` for all
    CPUs, ``cpu0``, ``cpu1``, ... for each; empty where unreadable, a line without steal left out."""
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu")]
    except OSError:
        return {}
    return {fields[0]: [int(v) for v in fields[1:9]] for fields in lines if len(fields) >= 9}


def _cpu_times() -> tuple[int, int] | None:
    """(total, steal) jiffies of all CPUs, or None where /proc/stat has no steal column."""
    values = _proc_stat().get("cpu")
    return (sum(values), values[7]) if values else None


@dataclass(frozen=True)
class CpuThreads:
    """The CPU threads a run's cells time with, and why that many."""

    threads: int
    why: str

    def describe(self) -> str:
        return f"{self.threads} thread{'s' * (self.threads != 1)} ({self.why})"


# Idle CPU time that still counts as a whole free core: a core that daemons touch now and then
# (1.8 idle of 2 is 2 threads), not one that another process holds a third of the time.
_SPARE = 0.2


def _cpu_idle_jiffies(cpus: set[int]) -> dict[int, tuple[int, int]]:
    """(total, idle + iowait) jiffies per CPU in ``cpus``, from /proc/stat; empty where unreadable."""
    return {int(name[3:]): (sum(values), values[3] + values[4]) for name, values in _proc_stat().items()
            if name[3:].isdigit() and int(name[3:]) in cpus}


def free_cores(window_s: float = 0.5, most: int | None = None) -> CpuThreads:
    """The CPU time that other work left idle over ``window_s`` (this process sleeps meanwhile), in
    cores, as the number of threads to time with: at least 1, at most ``most`` (default torch's
    thread count). Summed over CPUs, so a busy process that moves between cores counts once. Where
    /proc/stat cannot be read every allowed CPU counts as idle."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    most = min(most or torch.get_num_threads(), len(allowed))
    before = _cpu_idle_jiffies(allowed)
    time.sleep(window_s)
    after = _cpu_idle_jiffies(allowed)
    shares = [(after[c][1] - before[c][1]) / (after[c][0] - before[c][0])
              for c in before if c in after and after[c][0] > before[c][0]]
    idle = sum(shares) if shares else float(len(allowed))
    return CpuThreads(max(1, min(math.floor(idle + _SPARE), most)),
                      f"{idle:.1f} of {len(allowed)} CPUs idle when the run started")


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
