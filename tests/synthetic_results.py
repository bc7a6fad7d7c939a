"""Synthetic results folders for the analysis / report / compare tests (no measurement needed).

Costs follow the analytic shapes of the operators at width C=96, stride 4 (N = (res/4)**2):
PaCa and Swin a*N, PVTv2 (R=8) a*N + b*N**2/R**2, ViT a*N + b*N**2 (exact integer MACs, the
attention's part of them mixing, all of it in module ``attn``), with multiplicative noise on
the timed metrics; ViT runs out of memory at the largest size (counts kept, timings empty).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pacabench.measure.schema import ROW_COLUMNS

C = 96
RESOLUTIONS = (224, 448, 896, 1344, 2048)
MIXING_MACS = {   # MACs of the attention products of one forward pass at N tokens
    "paca": lambda n: 2 * n * 100 * C,
    "swin": lambda n: 2 * n * 49 * C,
    "pvt": lambda n: 2 * n * (n // 64) * C,
    "vit": lambda n: 2 * n * n * C,
}
DENSE_MACS = {"paca": 4 * C * C, "swin": 4 * C * C, "pvt": 3 * C * C, "vit": 4 * C * C}  # per token
OPERATOR_MACS = {op: (lambda n, op=op: DENSE_MACS[op] * n + MIXING_MACS[op](n)) for op in MIXING_MACS}


def make_rows(operators=tuple(OPERATOR_MACS), resolutions=RESOLUTIONS, *, noise=0.03, seed=0,
              oom=(("vit", 2048),), device="cpu", device_name="Synthetic CPU") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for op in operators:
        for res in resolutions:
            n = (res // 4) ** 2
            macs, mixing = OPERATOR_MACS[op](n), MIXING_MACS[op](n)
            status = "oom" if (op, res) in oom else "ok"
            measured = status == "ok"
            jitter = lambda: float(np.exp(rng.normal(0, noise)))  # noqa: E731
            row = dict.fromkeys(ROW_COLUMNS)
            row.update(
                cell_key=f"operator:{op}:{res}:cpu", kind="operator", name=op, params_json="{}",
                resolution_h=res, resolution_w=res, tokens=n, batch=1, dtype="float32", device=device,
                device_name=device_name, mode="inference", channels_last=False, compile=False,
                status=status, message="CUDA out of memory" if not measured else "",
                params=4 * C * C + 4 * C, gmacs=macs / 1e9, gmacs_fvcore=macs / 1e9, gmacs_mixing=mixing / 1e9,
                gmacs_dense=(macs - mixing) / 1e9, gmacs_other=0.0,
                module_macs=json.dumps({"attn": [mixing, macs - mixing, 0]}),
                flops_method="FlopCounterMode+pacabench", flops_agree=True, uncounted_ops="[]",
                mem_method="tracemalloc (CPU)",
            )
            if measured:
                mem = 20 + macs / 2e7
                lat = macs / 2e7 * jitter()
                row.update(peak_mem_mb=mem * jitter(), peak_mem_reserved_mb=mem * 1.2, peak_mem_net_mb=mem - 20,
                           latency_ms_median=lat, latency_ms_p10=lat * 0.95, latency_ms_p90=lat * 1.08,
                           latency_samples=7, throughput_img_s=1000 / lat, throughput_tok_s=1000 * n / lat,
                           elapsed_s=0.5)
            row["label"] = f"op:{op}"
            rows.append(row)
    return pd.DataFrame(rows)


def write_run(directory: Path, df: pd.DataFrame | None = None, expectations=None, name="synthetic") -> Path:
    """A results folder as the runner writes it: results.csv, suite.yaml, env.json."""
    directory.mkdir(parents=True, exist_ok=True)
    df = make_rows() if df is None else df
    df.to_csv(directory / "results.csv", index=False)
    if expectations is None:
        expectations = {"op:paca": "linear", "op:swin": "linear", "op:pvt": "quadratic", "op:vit": "quadratic"}
    suite = {"name": name, "targets": [{"operator": op} for op in df["name"].unique()],
             "resolutions": sorted({int(r) for r in df["resolution_h"]}), "warmup": 2, "repeats": 5,
             "min_time_s": 0.5, "expectations": expectations}
    (directory / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    env = {"torch": "2.14.1", "timm": "1.0.31", "device_name": "Synthetic CPU", "suite": name,
           "command": f"pacabench run suites/{name}.yaml"}
    (directory / "env.json").write_text(json.dumps(env, indent=2))
    return directory
