"""`compare --format junit` of 10^3 and 10^4 cells: the JUnit document grows linearly with the cells
(not timed in tests; tests/test_outputs_any_label.py counts the table filters instead).

    pytest benchmarks/bench_compare_junit.py -s --benchmark-disable

It filtered the table once per cell while pandas deep-copied the list of cells kept in
``DataFrame.attrs`` on every filter: 10^4 cells took 268 s against 4.4 s for text.
"""
import json
import time

import pandas as pd

from pacabench.analysis.compare import compare_runs
from pacabench.report import ci


def write_cells(path, cells: int, changed_every: int = 10):
    df = pd.DataFrame({
        "cell_key": [f"paca-{i}" for i in range(cells)], "kind": "operator", "name": "paca",
        "params_json": [json.dumps({"clusters": i + 1}) for i in range(cells)], "resolution_h": 224,
        "resolution_w": 224, "tokens": 3136, "batch": 1, "dtype": "float32", "device": "cpu",
        "mode": "inference", "status": "ok", "params": 37248, "gmacs": 0.1758, "label": "op:paca"})
    if changed_every:
        df.loc[df.index % changed_every == 0, "gmacs"] *= 2
    path.mkdir(parents=True)
    df.to_csv(path / "results.csv", index=False)
    return path


def test_junit_is_linear_in_cells(tmp_path):
    seconds = {}
    for cells in (1_000, 10_000):
        base = write_cells(tmp_path / f"base{cells}", cells, changed_every=0)
        run = write_cells(tmp_path / f"run{cells}", cells)
        comparison = compare_runs(base, run)
        start = time.perf_counter()
        document = ci.compare_junit(comparison)
        seconds[cells] = time.perf_counter() - start
        assert document.count("<testcase ") == cells
        print(f"\n{cells:,} cells: junit document in {seconds[cells]:.2f} s")
    print(f"ratio 10^4 / 10^3: {seconds[10_000] / seconds[1_000]:.1f} (10 = linear)")
