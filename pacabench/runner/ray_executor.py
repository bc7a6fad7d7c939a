"""Spread a sweep's cells over a Ray cluster: one Ray task per cell.

Each task runs the cell through :func:`pacabench.measure.cell.run_isolated`, so on the node it keeps
the local executor's guarantees (own process, time limit, fresh allocator peak). Resources: a CUDA
cell asks for one whole GPU (``num_gpus=1``), so no two timed cells share a GPU; a CPU cell asks for
``cpus_per_cell`` CPUs and times with that many threads (whatever the driver's machine has idle). CPU cells that run side by side
on one node share its memory bandwidth: give them the whole node (``cpus_per_cell`` = cores per node)
when latency matters more than turnaround.

Every row carries the ``device_name`` of the node that measured it, so ``pacabench compare`` never
mixes devices. A task that fails or is lost (worker crash, node gone) becomes an ``error`` row.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from pacabench.measure.cell import Cell, failed_row, run_isolated
from pacabench.runner.executor import ExecutorError

INSTALL_HINT = "pip install -e '.[ray]'  (or: pip install 'ray>=2.9')"


def _import_ray():
    try:
        import ray
    except ImportError as error:
        raise ExecutorError(f"the ray executor needs Ray, which is not installed: {INSTALL_HINT}") from error
    return ray


class RayExecutor:
    """Runs cells as Ray tasks and yields each row as soon as its task finishes.

    ``address``: None starts a private local Ray instance; "auto" joins the cluster this node
    belongs to; "ray://host:10001" connects a client to a remote cluster.
    """

    def __init__(self, address: str | None = None, cpus_per_cell: int = 1,
                 num_cpus: int | None = None, run: Callable[[Cell], dict] = run_isolated):
        if cpus_per_cell < 1:
            raise ExecutorError(f"cpus_per_cell must be >= 1, got {cpus_per_cell}")
        self._ray = _import_ray()
        self._owns_instance = not self._ray.is_initialized()
        if self._owns_instance:
            options = {"address": address, "num_cpus": num_cpus} if address is None else {"address": address}
            self._ray.init(**options, include_dashboard=False, log_to_driver=False,
                           ignore_reinit_error=True)
        self._cpus_per_cell = cpus_per_cell
        self._task = self._ray.remote(max_retries=0)(run)

    def _submit(self, cell: Cell):
        if cell.device == "cuda":
            return self._task.options(num_gpus=1, num_cpus=1).remote(cell)
        return self._task.options(num_cpus=self._cpus_per_cell).remote(replace(cell, threads=self._cpus_per_cell))

    def map(self, cells: Sequence[Cell]) -> Iterator[dict]:
        pending = {self._submit(cell): cell for cell in cells}
        try:
            while pending:
                done, _ = self._ray.wait(list(pending), num_returns=1)
                for ref in done:
                    cell = pending.pop(ref)
                    try:
                        yield self._ray.get(ref)
                    except Exception as error:  # task raised, worker died, node lost
                        cause = getattr(error, "cause", None) or error  # RayTaskError wraps the task's own
                        first = (str(cause).strip().splitlines() or [""])[0]
                        yield failed_row(cell, "error", f"ray task failed: {type(cause).__name__}: {first}")
        finally:
            for ref in pending:  # interrupted: do not leave cells running on the cluster
                self._ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owns_instance and self._ray.is_initialized():
            self._ray.shutdown()
