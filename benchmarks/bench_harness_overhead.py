"""The harness's timing loop versus a bare ``torch.utils.benchmark.Timer`` loop, same module, same run.

Both time the same inference step (``inference_mode`` forward of a ViT) with the same thread count.
The two alternate round by round (load on a shared machine drifts), each round giving one median per
method; the overhead is the median over rounds of harness / Timer - 1. Target: within 3%. On CUDA
the harness synchronises after every step (CUDA events), the Timer once per block. Not part of the
default test run (testpaths = tests):

    pytest benchmarks/bench_harness_overhead.py -s --benchmark-disable
"""
import statistics

import pytest
import timm
import torch
from torch.utils.benchmark import Timer

from pacabench.measure.timing import make_step, time_step

ROUNDS = 15
MIN_TIME_S = 0.3
CASES = {  # device -> (img_size, batch): a step of a few milliseconds
    "cpu": (64, 1),
    "cuda": (224, 32),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # less exposed to other processes on a shared CPU
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("device", [
    "cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))])
def test_harness_overhead_within_3_percent(benchmark, device):
    img_size, batch = CASES[device]
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", img_size=img_size).eval().to(device)
    x = torch.randn(batch, 3, img_size, img_size, device=device)

    def bare():
        with torch.inference_mode():
            model(x)

    harness_step = make_step(model, (x,), mode="inference", dtype="float32", device=torch.device(device))
    timer = Timer(stmt="bare()", globals={"bare": bare}, num_threads=1)
    ratios = []
    for _ in range(ROUNDS):
        bare_ms = timer.blocked_autorange(min_run_time=MIN_TIME_S).median * 1e3
        ours_ms = time_step(harness_step, torch.device(device), warmup=2, min_repeats=5,
                            min_time_s=MIN_TIME_S).median_ms
        ratios.append(ours_ms / bare_ms)
    overhead_pct = (statistics.median(ratios) - 1) * 100
    benchmark.extra_info.update(overhead_pct=overhead_pct, ratios=ratios, bare_ms=bare_ms)
    benchmark.pedantic(harness_step, rounds=20, warmup_rounds=2)
    print(f"\n{device}: harness vs torch.utils.benchmark.Timer: {overhead_pct:+.2f}% "
          f"(step {bare_ms:.2f} ms; per-round ratios {', '.join(f'{r:.3f}' for r in ratios)})")
    assert abs(overhead_pct) < 3
