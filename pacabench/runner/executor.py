"""Executors run cells and hand back one row per cell as each finishes.

The interface is deliberately small so another engine (e.g. Ray, one task per cell) can slot in:

* ``map(cells)`` yields one row dict (``ROW_COLUMNS`` keys, ``cell_key`` set) per cell, in any order,
  as soon as it is done. A cell that fails must come back as a row with status ``error`` (or
  ``timeout``/``oom``), never as an exception: the sweep goes on.
* ``close()`` releases whatever the executor holds (processes, cluster connections).

Register a new executor in ``EXECUTORS`` as ``name -> "module:attribute"``; ``make_executor`` imports it
only when asked, so optional engines cost nothing when unused. An executor whose dependency is
missing raises ``ExecutorError`` with the install command.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from pacabench.measure.cell import Cell


class ExecutorError(Exception):
    """An executor that cannot be created (unknown name, missing optional dependency)."""


@runtime_checkable
class Executor(Protocol):
    def map(self, cells: Sequence[Cell]) -> Iterator[dict]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """One cell at a time, each in its own child process with a time limit (``run_isolated``).

    Cells run one after another on purpose: two timed cells sharing a CPU or GPU would spoil each
    other's latency and memory peaks.
    """

    def __init__(self, run: Callable[[Cell], dict] | None = None):
        if run is None:
            from pacabench.measure.cell import run_isolated as run
        self._run = run

    def map(self, cells: Sequence[Cell]) -> Iterator[dict]:
        for cell in cells:
            yield self._run(cell)

    def close(self) -> None:
        pass


EXECUTORS: dict[str, str] = {
    "local": "pacabench.runner.executor:LocalExecutor",
    "ray": "pacabench.runner.ray_executor:RayExecutor",
}


def make_executor(name: str, **options) -> Executor:
    """Build the executor registered as ``name`` with its options (e.g. ``address=`` for Ray)."""
    if name not in EXECUTORS:
        raise ExecutorError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
    module_name, attr = EXECUTORS[name].split(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(**options)
