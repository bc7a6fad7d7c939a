"""Latency of an inference pass or a training step: warm-up, then timed repeats, never one sample.

The timed loop is as thin as a bare ``torch.utils.benchmark.Timer`` loop (see
``benchmarks/bench_harness_overhead.py``): a clock read before and after each step, nothing else.
On CUDA each step is bracketed by CUDA events and synchronised, so the time is the device's.
Lower precision is autocast over float32 weights (the usual mixed-precision recipe).
"""
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from pacabench.measure.torch_compat import tree_leaves

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MODES = ("inference", "train")


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p10_ms: float
    p90_ms: float
    samples: int


def prepare(module: torch.nn.Module, inputs: tuple, *, mode: str, channels_last: bool,
            compile: bool) -> tuple[Callable, tuple]:
    """Put the module in the cell's mode and layout; return the callable to run and the inputs."""
    module.train(mode == "train")
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
        inputs = tuple(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
                       for t in inputs)
    return (torch.compile(module) if compile else module), inputs


def autocast(device: torch.device, dtype: str):
    """Autocast context for ``dtype``; a no-op for float32."""
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[dtype])


def make_step(model: Callable, inputs: tuple, *, mode: str, dtype: str, device: torch.device,
              parameters=None) -> Callable[[], object]:
    """One unit of timed work: a forward pass (inference) or forward + backward + AdamW step (train).

    ``parameters`` (train mode) are the weights the optimizer updates.
    """
    if mode == "inference":
        def step():
            with torch.inference_mode(), autocast(device, dtype):
                return model(*inputs)
        return step
    if mode != "train":
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    optimizer = torch.optim.AdamW(parameters, lr=1e-4)

    def step():
        with autocast(device, dtype):
            out = model(*inputs)
            loss = sum(t.float().mean() for t in tree_leaves(out) if isinstance(t, torch.Tensor))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def _timed_cpu(step: Callable) -> float:
    start = time.perf_counter()
    step()
    return (time.perf_counter() - start) * 1e3


def _timed_cuda(step: Callable) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    step()
    end.record()
    end.synchronize()
    return start.elapsed_time(end)


def time_step(step: Callable, device: torch.device, *, warmup: int, min_repeats: int,
              min_time_s: float) -> Timing:
    """Run ``warmup`` untimed steps, then timed steps until both ``min_repeats`` and ``min_time_s``."""
    timed = _timed_cuda if device.type == "cuda" else _timed_cpu
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    samples: list[float] = []
    deadline = time.perf_counter() + min_time_s
    while len(samples) < min_repeats or time.perf_counter() < deadline:
        samples.append(timed(step))
    p10, median, p90 = np.percentile(samples, [10, 50, 90])
    return Timing(float(median), float(p10), float(p90), len(samples))


def throughput(batch: int, tokens: int | None, median_ms: float) -> tuple[float, float | None]:
    """Images per second and tokens per second at the median latency."""
    per_s = 1e3 / median_ms
    return batch * per_s, (None if tokens is None else batch * tokens * per_s)
