"""Counting GMACs (both methods) of the 14 zoo variants and 6 peers at 224 and 896 px: under 60 s.

Everything is built on the meta device through ``pacabench.targets.build_target``, as `pacabench flops`
and the cells do. Not part of the default test run (testpaths = tests):

    pytest benchmarks/bench_flops_counting.py -s --benchmark-disable
"""
import time

from pacabench.measure.flops import count_flops
from pacabench.models import ZOO_VARIANTS
from pacabench.targets import build_target

PEERS = ["vit_small_patch16_224", "deit_small_patch16_224", "swin_tiny_patch4_window7_224",
         "pvt_v2_b1", "pvt_v2_b2", "pvt_v2_b2_li"]


def count_all() -> list[tuple[str, int, float, bool]]:
    rows = []
    for name in [*ZOO_VARIANTS, *PEERS]:
        for size in (224, 896):
            built = build_target("model", name, {}, size, size, 1, device="meta")
            flops = count_flops(built.module, built.inputs)
            rows.append((name, size, flops.gmacs, flops.agree))
    return rows


def test_count_zoo_and_peers_at_224_and_896_under_60_s(benchmark):
    start = time.perf_counter()
    rows = benchmark.pedantic(count_all, rounds=1, iterations=1)
    seconds = time.perf_counter() - start
    benchmark.extra_info["seconds"] = seconds
    print(f"\ncounted {len(rows)} (model, size) pairs in {seconds:.1f} s")
    assert len(ZOO_VARIANTS) == 14 and len(rows) == 40
    assert all(agree for *_, agree in rows), [r for r in rows if not r[3]]
    assert seconds < 60
