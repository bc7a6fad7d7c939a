"""PaCa-Tiny forward on CPU: the SDPA path versus the explicit-attention-weights path of the same module.

The official PaCa code materialises the N x M attention weights (``need_weights=True``); pacabench's
PaCaAttention uses ``F.scaled_dot_product_attention`` and builds the weights (and cluster maps) only
when asked (``set_record_maps(True)``, the explicit path). Both paths run in the same session on the
same model and input, at 224 and 896 px, with one intra-op thread.

Paired rounds: on a shared machine the load drifts between two benchmarks run one after the other,
which can swamp a few-percent difference. So each benchmark runs the *other* path once before every
timed round (pytest-benchmark's untimed ``setup``), timed by hand: the two paths alternate round by
round, and ``extra_info`` holds the paired medians and their ratio (explicit / SDPA; > 1 means SDPA
is faster). Not part of the default test run (testpaths = tests):

    pytest benchmarks/bench_paca_sdpa.py --benchmark-only --benchmark-group-by=param:resolution
"""
import statistics
import time

import pytest
import timm
import torch

import pacabench  # noqa: F401  (registers the zoo with timm)

ROUNDS = {224: 30, 896: 5}
PATHS = ("sdpa", "explicit")


@pytest.fixture(scope="module")
def paca_tiny():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield timm.create_model("pacavit_tiny_p2cconv_100_0").eval()
    torch.set_num_threads(threads)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("resolution", [224, 896])
def test_paca_tiny_forward(benchmark, paca_tiny, resolution, path):
    other = PATHS[1 - PATHS.index(path)]
    x = torch.randn(1, 3, resolution, resolution)
    other_seconds = []

    def forward():
        with torch.no_grad():
            return paca_tiny(x)

    def run_other_path_then_arm():
        paca_tiny.set_record_maps(other == "explicit")
        start = time.perf_counter()
        forward()
        other_seconds.append(time.perf_counter() - start)
        paca_tiny.set_record_maps(path == "explicit")

    logits = benchmark.pedantic(forward, setup=run_other_path_then_arm,
                                rounds=ROUNDS[resolution], warmup_rounds=1, iterations=1)
    paca_tiny.set_record_maps(False)
    assert logits.shape == (1, 1000)
    if benchmark.stats is None:  # --benchmark-disable: ran once, nothing timed
        return

    own_median = benchmark.stats.stats.median
    other_median = statistics.median(other_seconds[1:])  # the first one ran before the warm-up round
    medians = {path: own_median, other: other_median}
    benchmark.extra_info.update(
        model="pacavit_tiny_p2cconv_100_0", threads=1,
        paired_median_ms={p: round(m * 1e3, 2) for p, m in medians.items()},
        paired_ratio_explicit_over_sdpa=round(medians["explicit"] / medians["sdpa"], 3),
    )
