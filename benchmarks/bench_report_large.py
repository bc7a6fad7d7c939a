"""`pacabench report` of a run of 10^5 or 10^6 rows: time and the page written (not timed in tests).

    pytest benchmarks/bench_report_large.py -s --benchmark-disable            # 10^5 rows
    PACABENCH_BENCH_ROWS=1000000 pytest benchmarks/bench_report_large.py -s --benchmark-disable

Rows: 100 (or 1,000) series, half linear and half quadratic, at 1,000 sizes each, with module MACs,
memory and latency (5% noise). Measured on the 2-core CPU (2026-11-23): 10^5 rows in about 40 s,
10^6 rows in 2 min 26 s at 3.3 GB peak RSS (before: 482 s, 10.7 GB, then a traceback).
"""
import json
import os
import time

import numpy as np
import pandas as pd

from pacabench.analysis.run_analysis import analyse
from pacabench.report.html import build_report


def write_large_run(directory, series: int, sizes: int = 1000):
    res = 224 + 4 * np.arange(sizes)
    n = (res // 4) ** 2
    rng = np.random.default_rng(0)
    frames = []
    for i in range(series):
        mixing = 2 * n * (100 + i) * 96 if i % 2 else 2 * n * n * 96
        macs = mixing + 4 * n * 96 * 96
        frames.append(pd.DataFrame({
            "cell_key": [f"op{i}@{r}" for r in res], "kind": "operator", "name": "paca",
            "params_json": json.dumps({"clusters": i + 1}), "resolution_h": res, "resolution_w": res, "tokens": n,
            "batch": 1, "dtype": "float32", "device": "cpu", "device_name": "cpu", "mode": "inference",
            "channels_last": False, "compile": False, "status": "ok", "params": 1000, "gmacs": macs / 1e9,
            "gmacs_mixing": mixing / 1e9, "module_macs": [json.dumps({"attn": [int(a), int(b - a), 0]})
                                                          for a, b in zip(mixing, macs)],
            "peak_mem_mb": 20 + macs / 2e7 * np.exp(rng.normal(0, 0.05, sizes)),
            "latency_ms_median": macs / 2e7 * np.exp(rng.normal(0, 0.05, sizes)), "label": f"op:paca{i}"}))
    directory.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_csv(directory / "results.csv", index=False)
    (directory / "suite.yaml").write_text("name: large\n")
    return directory


def test_report_of_a_large_run(benchmark, tmp_path):
    rows = int(os.environ.get("PACABENCH_BENCH_ROWS", 100_000))
    run = write_large_run(tmp_path / "run", series=rows // 1000)
    start = time.perf_counter()
    page = benchmark.pedantic(lambda: build_report(analyse(run)), rounds=1, iterations=1)
    seconds = time.perf_counter() - start
    benchmark.extra_info["seconds"] = seconds
    print(f"\nreport of {rows:,} rows in {seconds:.1f} s: {page.stat().st_size / 1e6:.1f} MB page")
    assert page.exists()
