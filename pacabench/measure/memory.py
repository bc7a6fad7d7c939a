"""Peak memory of one cell, gross and net of the weights and inputs already resident.

CUDA: the caching allocator's own peak (``max_memory_allocated`` / ``max_memory_reserved``), reset
just before the cell runs; net = peak allocated minus what was allocated before (weights, inputs).

CPU (and meta): the allocator keeps no peak, so :class:`LiveTensorTracker` is the documented
equivalent: it sees every tensor an aten op returns, follows it to its storage, adds the storage's
bytes when first seen and subtracts them when a weakref finalizer reports the storage freed. The
peak of that sum is the net peak; gross adds the bytes of the weights, buffers and inputs. Scratch
space a kernel allocates and frees internally (e.g. inside a fused attention kernel) is not seen.
Run on ``meta`` tensors the same tracker gives an estimate without allocating anything, which is
how cells too large to run are judged.
"""
import os
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from pacabench.measure.torch_compat import TorchDispatchMode, tree_leaves

MB = 2**20


@dataclass(frozen=True)
class MemoryStats:
    peak_mb: float             # gross: resident weights + inputs + the cell's own peak
    peak_reserved_mb: float | None  # CUDA allocator's reserved peak; None off CUDA
    peak_net_mb: float         # the cell's own peak above what was resident before it
    method: str                # "cuda_max_memory_allocated" | "cpu_live_tensors" | "meta_live_tensors"


def available_ram_mb() -> float:
    """RAM the kernel says can be allocated without swapping (MemAvailable), in MB."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / MB
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / MB


def resident_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages behind ``tensors`` (shared storages counted once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        storage = t.untyped_storage()
        seen[id(storage)] = storage.nbytes()
    return sum(seen.values())


def module_and_input_tensors(module: torch.nn.Module, inputs: tuple) -> list[torch.Tensor]:
    """Weights, buffers and input tensors: what is resident before a cell runs."""
    tensors = [*module.parameters(), *module.buffers()]
    return tensors + [t for t in tree_leaves(inputs) if isinstance(t, torch.Tensor)]


class LiveTensorTracker(TorchDispatchMode):
    """Track the bytes of tensor storages created inside the mode; ``peak_bytes`` is their peak."""

    def __init__(self):
        super().__init__()
        self.live_bytes = 0
        self.peak_bytes = 0
        self._live: dict[int, int] = {}

    def _freed(self, key: int) -> None:
        self.live_bytes -= self._live.pop(key, 0)

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = id(storage)  # torch keeps one Python object per live storage, so id() is stable
        if key in self._live:
            return
        nbytes = storage.nbytes()
        self._live[key] = nbytes
        weakref.finalize(storage, self._freed, key)
        self.live_bytes += nbytes
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        # Views and in-place results share an argument's storage: nothing new was allocated.
        shared = {id(a.untyped_storage()) for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)}
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and id(t.untyped_storage()) not in shared:
                self._track(t)
        return out


def tracked_peak(step: Callable[[], object], resident: int, device: str) -> MemoryStats:
    """Run ``step`` once under :class:`LiveTensorTracker` (CPU or meta tensors)."""
    tracker = LiveTensorTracker()
    with tracker:
        step()
    return MemoryStats(
        peak_mb=(resident + tracker.peak_bytes) / MB,
        peak_reserved_mb=None,
        peak_net_mb=tracker.peak_bytes / MB,
        method=f"{device}_live_tensors",
    )


class CudaPeak:
    """Context manager: reset the allocator's peak on entry, read gross/net peaks on exit."""

    def __init__(self, device: torch.device | str = "cuda"):
        self.device = torch.device(device)
        self.stats: MemoryStats | None = None

    def __enter__(self) -> "CudaPeak":
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(self.device)
        self._resident = torch.cuda.memory_allocated(self.device)
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            return
        torch.cuda.synchronize(self.device)
        peak = torch.cuda.max_memory_allocated(self.device)
        self.stats = MemoryStats(
            peak_mb=peak / MB,
            peak_reserved_mb=torch.cuda.max_memory_reserved(self.device) / MB,
            peak_net_mb=(peak - self._resident) / MB,
            method="cuda_max_memory_allocated",
        )
