"""Model FLOP utilisation: achieved FLOP/s over the device's dense peak for the dtype.

FLOPs here are 2 per MAC (hardware convention, unlike the GMACs column). A training step is
counted as 3 forward passes (forward + backward, the usual estimate). Peaks are the vendors' dense
(non-sparse) tensor-core figures in TFLOP/s; float32 uses the TF32 peak when torch allows TF32
matmuls. Unknown devices (every CPU) give None, shown blank.
"""
import re

import torch

_SXM_HOPPER = {"float32": 66.9, "tf32": 494.7, "bfloat16": 989.4, "float16": 989.4}
PEAK_TFLOPS: list[tuple[str, dict[str, float]]] = [  # first matching pattern wins
    (r"H100 PCIe", {"float32": 51.2, "tf32": 378.0, "bfloat16": 756.0, "float16": 756.0}),
    (r"H100 NVL", {"float32": 60.0, "tf32": 417.5, "bfloat16": 835.0, "float16": 835.0}),
    (r"H100|H200|H800", _SXM_HOPPER),
    (r"A100", {"float32": 19.5, "tf32": 156.0, "bfloat16": 312.0, "float16": 312.0}),
    (r"L40S", {"float32": 91.6, "tf32": 183.0, "bfloat16": 362.0, "float16": 362.0}),
    (r"\bL4\b", {"float32": 30.3, "tf32": 60.0, "bfloat16": 121.0, "float16": 121.0}),
    (r"\bA10\b", {"float32": 31.2, "tf32": 62.5, "bfloat16": 125.0, "float16": 125.0}),
    (r"RTX 4090", {"float32": 82.6, "tf32": 82.6, "bfloat16": 165.2, "float16": 165.2}),
    (r"V100", {"float32": 15.7, "float16": 125.0}),
    (r"\bT4\b", {"float32": 8.1, "float16": 65.0}),
]


def peak_tflops(device_name: str | None, dtype: str) -> float | None:
    """Dense peak TFLOP/s of ``device_name`` for ``dtype``; None if the device or dtype is unknown."""
    if not device_name:
        return None
    key = "tf32" if dtype == "float32" and torch.backends.cuda.matmul.allow_tf32 else dtype
    for pattern, peaks in PEAK_TFLOPS:
        if re.search(pattern, device_name):
            return peaks.get(key)
    return None


def mfu(gmacs: float | None, mode: str, median_ms: float | None, device_name: str | None,
        dtype: str) -> float | None:
    """Fraction of the peak achieved by one step of ``gmacs`` forward GMACs in ``median_ms``."""
    peak = peak_tflops(device_name, dtype)
    if peak is None or not gmacs or not median_ms:
        return None
    flops = 2 * gmacs * 1e9 * (3 if mode == "train" else 1)
    return flops / (median_ms / 1e3) / (peak * 1e12)
