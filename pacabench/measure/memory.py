"""Peak memory of one cell, gross and net of the weights and inputs already resident.

CUDA: the caching allocator's own peak (``max_memory_allocated`` / ``max_memory_reserved``), reset
just before the cell runs; net = peak allocated minus what was allocated before (weights, inputs).

CPU (and meta): the allocator keeps no peak, so :class:`LiveTensorTracker` is the documented
equivalent: it sees every tensor an aten op returns, follows it to its storage, adds the storage's
bytes when first seen and subtracts them when a weakref finalizer reports the storage freed. The
peak of that sum is the net peak; gross adds the bytes of the weights, buffers and inputs. Scratch
space a kernel allocates and frees internally (e.g. inside a fused attention kernel) is not seen.
Run on ``meta`` tensors the same tracker gives the cell's peak without allocating anything
(:func:`predicted_peak`): the live-tensor peak is a function of the graph alone, so the prediction is
exact, at any size, run or not. Both runs execute attention as the target device's kernel
(:class:`~pacabench.measure.attention_kernels.DeviceAttention`): on meta, SDPA would otherwise take
the math path and keep an N x N matrix that CPU's fused kernel never makes, and under
``inference_mode`` the tracker would see only the composite op, not the tensors its kernel returns.
The prediction also gives each module's own peak (``by_module``), so its N^2 term can be placed
like the MACs'.
"""
import contextlib
import os
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch.nn.modules import module as nn_module

from pacabench.measure.attention_kernels import DeviceAttention
from pacabench.measure.torch_compat import TorchDispatchMode, tree_leaves

MB = 2**20


@dataclass(frozen=True)
class MemoryStats:
    peak_mb: float             # gross: resident weights + inputs + the cell's own peak
    peak_reserved_mb: float | None  # CUDA allocator's reserved peak; None off CUDA
    peak_net_mb: float         # the cell's own peak above what was resident before it
    method: str                # "cuda_max_memory_allocated" | "cpu_live_tensors" | "meta_live_tensors"
    by_module: dict[str, int] | None = None  # tracked runs with modules: module path -> its own peak bytes


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


class ModuleStack:
    """Which modules of ``root`` are running their forward now (``parents``: paths, ``""`` the root).

    Forward hooks only: torch's ``ModuleTracker`` also hooks the backward pass through the tensors,
    which keeps one more activation alive in a training step (+1.2 MB on ``op:paca`` at 224 px) and
    so would change the peak it is asked to explain."""

    def __init__(self, root: torch.nn.Module):
        self._paths = {id(module): path for path, module in reversed(list(root.named_modules()))}
        self._stack: list[str] = []
        self._handles = []

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(self._stack)

    def _enter(self, module, args) -> None:
        self._stack.append(self._paths.get(id(module)))

    def _exit(self, module, args, output) -> None:
        self._stack.pop()

    def __enter__(self) -> "ModuleStack":
        self._handles = [nn_module.register_module_forward_pre_hook(self._enter),
                         nn_module.register_module_forward_hook(self._exit, always_call=True)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()


class LiveTensorTracker(TorchDispatchMode):
    """Track the bytes of tensor storages created inside the mode; ``peak_bytes`` is their peak.

    With ``modules`` (a running :class:`ModuleStack`), each storage is also charged to the modules
    it was allocated in, and :attr:`module_peaks` holds each module's own peak: the most bytes
    allocated inside it (its submodules included) that were live at one time. A module's own peak
    is a function of its own ops, so it grows with N like them (the attention's N x N weights), where
    the bytes live at the whole pass's peak belong to whichever module peaks there at each size."""

    def __init__(self, modules: ModuleStack | None = None):
        super().__init__()
        self.live_bytes = 0
        self.peak_bytes = 0
        self._live: dict[int, int] = {}
        self._modules = modules
        self._charged: dict[int, tuple[str, ...]] = {}  # live storage key -> modules it is charged to
        self._module_live: dict[str, int] = {}
        self.module_peaks: dict[str, int] = {}

    def _freed(self, key: int) -> None:
        nbytes = self._live.pop(key, 0)
        self.live_bytes -= nbytes
        for path in self._charged.pop(key, ()):
            self._module_live[path] -= nbytes

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
        if self._modules is not None:
            paths = self._charged[key] = tuple(dict.fromkeys(p for p in self._modules.parents if p is not None))
            for path in paths:
                live = self._module_live[path] = self._module_live.get(path, 0) + nbytes
                if live > self.module_peaks.get(path, 0):
                    self.module_peaks[path] = live

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        # Views and in-place results share an argument's storage: nothing new was allocated.
        shared = {id(a.untyped_storage()) for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)}
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and id(t.untyped_storage()) not in shared:
                self._track(t)
        return out


def tracked_peak(step: Callable[[], object], resident: int, device: str, *, kernels: str | None = None,
                 root: torch.nn.Module | None = None) -> MemoryStats:
    """Run ``step`` once under :class:`LiveTensorTracker` (CPU or meta tensors), attention run as
    ``kernels``' device runs it (default: ``device``'s own). With ``root`` (the module ``step``
    calls) the stats carry ``by_module``."""
    modules = ModuleStack(root) if root is not None else None
    with modules or contextlib.nullcontext():
        tracker = LiveTensorTracker(modules)
        with DeviceAttention(kernels or device), tracker:
            step()
    return MemoryStats(
        peak_mb=(resident + tracker.peak_bytes) / MB,
        peak_reserved_mb=None,
        peak_net_mb=tracker.peak_bytes / MB,
        method=f"{device}_live_tensors",
        by_module=dict(tracker.module_peaks) if root is not None else None,
    )


def predict_peak(built, *, mode: str = "inference", kernels: str = "cpu") -> MemoryStats:
    """The exact peak of one step (``mode``) of a target built on the meta device, float32, attention
    as ``kernels``' device runs it, with each module's own peak (``by_module``). Raises for an op
    without a meta kernel."""
    from pacabench.measure.meta_trace import MetaTraceMode
    from pacabench.measure.timing import make_step, prepare

    model, inputs = prepare(built.module, built.inputs, mode=mode, channels_last=False, compile=False)
    step = make_step(model, inputs, mode=mode, dtype="float32", device=torch.device("meta"),
                     parameters=built.module.parameters())
    resident = resident_bytes(module_and_input_tensors(built.module, built.inputs))
    with MetaTraceMode():  # memoised meta kernels: the same tensors, made faster
        return tracked_peak(step, resident, "meta", kernels=kernels, root=built.module)


def peak_columns(stats: MemoryStats, depth: int) -> dict:
    """``peak_mem_predicted_mb`` and ``module_peak_bytes`` (each module's own peak, modules down to
    ``depth``) of a row."""
    return {"peak_mem_predicted_mb": stats.peak_mb,
            "module_peak_bytes": {path: nbytes for path, nbytes in stats.by_module.items()
                                  if path and path.count(".") < depth}}


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
