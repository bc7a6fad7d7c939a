"""Expand a suite into the cells the measurement core runs, one per (target, size, batch, dtype,
mode, device), with ``auto`` devices resolved on the machine that runs the sweep."""
from __future__ import annotations

import itertools

import torch

from pacabench.measure.cell import Cell
from pacabench.runner.suite import Suite


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; explicit devices pass through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def missing_cuda(suite: Suite) -> bool:
    """The suite asks for CUDA and no GPU is visible."""
    return "cuda" in {resolve_device(d) for d in suite.devices} and resolve_device("auto") != "cuda"


def expand_cells(suite: Suite) -> list[tuple[str, Cell]]:
    """(label, cell) pairs in sweep order: target by target, sizes ascending within a target."""
    devices = list(dict.fromkeys(resolve_device(d) for d in suite.devices))
    out: list[tuple[str, Cell]] = []
    for entry in suite.targets:
        budget = entry.budget or suite.budget
        kind, name, params = entry.spec
        sizes = sorted(suite.sizes_for(entry), key=lambda hw: (hw[0] * hw[1], hw))
        for (h, w), batch, dtype, mode, dev in itertools.product(
                sizes, suite.batch_sizes, suite.dtypes, suite.modes, devices):
            out.append((entry.display_label, Cell(
                kind=kind, name=name, params=dict(params), height=h, width=w, batch=batch,
                dtype=dtype, device=dev, mode=mode, metrics=tuple(suite.metrics),
                channels_last=_either(entry.channels_last, suite.channels_last),
                compile=_either(entry.compile, suite.compile),
                warmup=suite.warmup, min_repeats=suite.repeats, min_time_s=suite.min_time_s,
                budget_seconds=budget.seconds, budget_memory_mb=budget.memory_mb,
                timeout_s=suite.timeout_s)))
    return out


def _either(target_setting: bool | None, suite_setting: bool) -> bool:
    """A target's own setting where it has one, else the suite's."""
    return suite_setting if target_setting is None else target_setting
