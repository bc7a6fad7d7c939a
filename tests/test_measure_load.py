"""The threads a sweep times with: the CPU time other work leaves idle, in whole cores, read from a
simulated /proc/stat with known load and from the real one with a process holding one core."""
import os
import subprocess
import sys

import pytest

from pacabench.measure import load
from pacabench.measure.cell import Cell, measure_cell


def _simulated(monkeypatch, idle_shares, jiffies=100):
    """Two /proc/stat reads between which CPU i was idle ``idle_shares[i]`` of the window."""
    cpus = set(range(len(idle_shares)))
    reads = iter([{c: (0, 0) for c in cpus},
                  {c: (jiffies, round(share * jiffies)) for c, share in enumerate(idle_shares)}])
    monkeypatch.setattr(load, "_cpu_idle_jiffies", lambda allowed: next(reads))
    monkeypatch.setattr(load.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(load.os, "sched_getaffinity", lambda pid: cpus)


@pytest.mark.parametrize("idle_shares, most, threads", [
    ([1.0, 1.0], 2, 2),            # quiet
    ([0.97, 0.88], 2, 2),          # daemons now and then: 1.85 of 2 is still two cores
    ([1.0, 0.0], 2, 1),            # another process holds one core
    ([0.5, 0.5], 2, 1),            # ... and moves between the two: it still takes one
    ([0.8, 0.7], 2, 1),            # 1.5 idle: a second thread would share its core
    ([0.0, 0.0], 2, 1),            # both held: still one thread
    ([1.0] * 8 + [0.0] * 8, 16, 8),  # 8 of 16 held
    ([1.0] * 4, 2, 2),             # never more than torch's threads
])
def test_threads_are_the_idle_cpu_time_in_whole_cores(monkeypatch, idle_shares, most, threads):
    _simulated(monkeypatch, idle_shares)
    free = load.free_cores(most=most)
    assert free.threads == threads
    assert free.why == f"{sum(idle_shares):.1f} of {len(idle_shares)} CPUs idle when the run started"


def test_without_proc_stat_every_allowed_cpu_counts_as_idle(monkeypatch):
    _simulated(monkeypatch, [0.0, 0.0, 0.0])
    monkeypatch.setattr(load, "_cpu_idle_jiffies", lambda allowed: {})
    assert load.free_cores(most=8).threads == 3
    assert load.CpuThreads(1, "why").describe() == "1 thread (why)"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to hold one")
def test_a_process_holding_one_cpu_leaves_one_thread_fewer():
    cpus = sorted(os.sched_getaffinity(0))
    busy = subprocess.Popen([sys.executable, "-c", "import os, time\nos.sched_setaffinity(0, {%d})\n"
                             "print(flush=True)\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"
                             % cpus[0]], stdout=subprocess.PIPE)
    try:
        busy.stdout.readline()  # it holds its CPU from now on
        free = load.free_cores(window_s=0.5, most=len(cpus))
    finally:
        busy.kill()
        busy.wait()
    assert 1 <= free.threads <= len(cpus) - 1


@pytest.mark.parametrize("threads", [1, None])
def test_a_cell_times_with_its_threads_and_leaves_the_process_as_it_was(threads):
    import torch

    before = torch.get_num_threads()
    row = measure_cell(Cell("operator", "paca", {}, 64, 64, metrics=("flops", "latency"), warmup=0,
                            min_repeats=1, min_time_s=0.0, threads=threads))
    assert row["status"] == "ok" and row["cpu_threads"] == (threads or before)
    assert torch.get_num_threads() == before
