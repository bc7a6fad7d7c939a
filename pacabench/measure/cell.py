"""One cell = one target at one size, batch, dtype, device and mode, measured into one row.

:func:`measure_cell` does the work in-process: build the target on ``meta`` and count parameters,
GMACs and bytes written there (any size), predict peak memory (exactly: ``peak_mem_predicted_mb``)
and time (:mod:`~pacabench.measure.budget`), skip the cell if a budget says so, else build it for
real, measure peak memory, time it and fill every column of :data:`~pacabench.measure.schema.ROW_COLUMNS`.
:func:`run_isolated` runs it in a fresh child process with a time limit, so a crash, a hang or an
OOM costs one row, and no allocator peak leaks from one cell into the next. The child never outlives
the sweep that started it, nor (by more than a few seconds) its time limit.
"""
import contextlib
import functools
import hashlib
import json
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing import popen_forkserver, spawn

import torch

from pacabench.measure import memory as mem
from pacabench.measure.budget import TimeHint, predict_seconds
from pacabench.measure.load import measured_under
from pacabench.measure.env import device_name
from pacabench.measure.counts import count_target
from pacabench.measure.mfu import mfu
from pacabench.measure.schema import ROW_COLUMNS
from pacabench.messages import one_line
from pacabench.measure.timing import make_step, prepare, throughput, time_step


@dataclass(frozen=True)
class Cell:
    """Everything that defines one measurement. ``gmacs`` is always the forward pass, also in train
    (where ``gmacs_backward`` adds the backward pass)."""

    kind: str                      # "model" | "operator"
    name: str
    params: dict                   # JSON-able target parameters
    height: int
    width: int
    batch: int = 1
    dtype: str = "float32"         # float32 | bfloat16 | float16 (autocast)
    device: str = "cpu"            # cpu | cuda
    mode: str = "inference"        # inference | train (forward + backward + AdamW step)
    metrics: tuple[str, ...] = ("flops", "params", "memory", "latency")
    channels_last: bool = False
    compile: bool = False
    warmup: int = 2
    min_repeats: int = 5
    min_time_s: float = 0.5
    budget_seconds: float | None = None
    budget_memory_mb: float | None = None
    timeout_s: float = 600
    # How to predict this cell's time (see pacabench.measure.budget); a hint, not part of the key.
    time_hint: TimeHint | None = field(default=None, compare=False)
    # Which timing pass this is: 1 measures everything; later passes (the suite's ``passes``) only
    # time the cell again, later in the sweep, so one burst of load does not bend one size.
    timing_pass: int = field(default=1, compare=False)
    # CPU threads to run with (None: torch's default): a sweep times with the cores other work left
    # free (pacabench.measure.load.free_cores), the same for every cell of a run; not part of the key.
    threads: int | None = field(default=None, compare=False)

    @property
    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True)

    @property
    def key(self) -> str:
        """Stable id for --resume: readable prefix, then a hash of every field that defines the cell
        (not ``time_hint``, ``timing_pass`` nor ``threads``: every pass measures the same cell)."""
        fields = asdict(self)
        del fields["time_hint"], fields["timing_pass"], fields["threads"]
        digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
        return (f"{self.name}@{self.height}x{self.width}-b{self.batch}-{self.dtype}-{self.device}-"
                f"{self.mode}-{digest}")

    def __hash__(self) -> int:
        return hash(self.key)


class _Skip(Exception):
    """A cell not run on purpose (budget, predicted OOM): status and message for its row."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def _identity_row(cell: Cell) -> dict:
    row = dict.fromkeys(ROW_COLUMNS)
    row.update(
        cell_key=cell.key, kind=cell.kind, name=cell.name, params_json=cell.params_json,
        resolution_h=cell.height, resolution_w=cell.width, batch=cell.batch, dtype=cell.dtype,
        device=cell.device, mode=cell.mode, channels_last=cell.channels_last, compile=cell.compile)
    return row


def failed_row(cell: Cell, status: str, message: str) -> dict:
    """The row of a cell that never reported one itself (a lost worker, a crashed executor)."""
    row = _identity_row(cell)
    row.update(status=status, message=message)
    return row


def _count(cell: Cell, row: dict):
    """Parameters and GMACs on the meta device (nothing allocated); returns the meta build."""
    counted = count_target(cell.kind, cell.name, cell.params, cell.height, cell.width, cell.batch,
                           backward=cell.mode == "train", kernels=cell.device)
    fields = counted.row()
    if "params" not in cell.metrics:
        fields = {k: v for k, v in fields.items() if not k.startswith("params")}
    if "flops" not in cell.metrics and cell.budget_seconds is None:
        fields = {k: v for k, v in fields.items() if k in ("tokens", "params", "params_by_part")}
    row.update(fields)
    return counted.built


def _predict_memory(cell: Cell, built, row: dict) -> mem.MemoryStats | None:
    """Peak memory of the cell on meta tensors (:func:`~pacabench.measure.memory.predict_peak`,
    attention as the cell's device runs it), into ``peak_mem_predicted_mb`` and ``module_peak_bytes``.
    On CPU it is what the live-tensor tracker measures, exactly; on CUDA the allocator's peak
    (``peak_mem_mb``) adds its rounding, caching and library workspaces. None (columns empty) for a
    target with an op that has no meta kernel."""
    from pacabench.measure.flops import MODULE_DEPTH

    try:
        stats = mem.predict_peak(built, mode=cell.mode, kernels=cell.device)
    except Exception:  # noqa: BLE001 - an op without a meta kernel: no prediction, the cell still runs
        return None
    row.update(mem.peak_columns(stats, MODULE_DEPTH))
    return stats


def _check_budgets(cell: Cell, row: dict, estimate: mem.MemoryStats | None,
                   device: torch.device) -> None:
    if estimate is not None:
        predicted = f"predicted peak memory {estimate.peak_mb:.0f} MB (meta-device estimate)"
        if cell.budget_memory_mb is not None and estimate.peak_mb > cell.budget_memory_mb:
            raise _Skip("skipped_budget", f"{predicted} > budget {cell.budget_memory_mb:g} MB")
        if device.type == "cpu" and estimate.peak_mb > mem.available_ram_mb():
            raise _Skip("oom", f"{predicted} > available RAM {mem.available_ram_mb():.0f} MB; not run")
    hint = cell.time_hint
    if cell.budget_seconds is not None and row["gmacs"] and hint is not None \
            and hint.device_name == row["device_name"]:
        if hint.timed_out:
            raise _Skip("skipped_budget", f"not timed: {hint.source}")
        step_s = hint.step_seconds(row["gmacs"])
        seconds = predict_seconds(step_s, warmup=cell.warmup, min_repeats=cell.min_repeats,
                                  min_time_s=cell.min_time_s)
        if seconds > cell.budget_seconds:
            raise _Skip("skipped_budget",
                        f"predicted {seconds:.1f} s > budget {cell.budget_seconds:g} s "
                        f"({hint.source}: {step_s:.3g} s a pass of {row['gmacs']:.2f} GMACs)")


def _fill_memory(row: dict, stats: mem.MemoryStats) -> None:
    row.update(peak_mem_mb=stats.peak_mb, peak_mem_reserved_mb=stats.peak_reserved_mb,
               peak_mem_net_mb=stats.peak_net_mb, mem_method=stats.method)


def _run(cell: Cell, row: dict, estimate: mem.MemoryStats | None) -> None:
    """Check the cell's predicted memory and time against its budgets, then measure it unless a
    budget says otherwise."""
    device = torch.device(cell.device)
    wants_memory, wants_latency = "memory" in cell.metrics, "latency" in cell.metrics
    try:
        _check_budgets(cell, row, estimate, device)
    except _Skip:
        if estimate is not None:  # what the cell would have needed, marked as an estimate
            _fill_memory(row, estimate)
        raise
    _measure_built(cell, row, device, wants_memory=wants_memory, wants_latency=wants_latency)


def _measure_built(cell: Cell, row: dict, device: torch.device, *, wants_memory: bool,
                   wants_latency: bool) -> None:
    """Build the cell on its device, then measure peak memory and latency (with the load it ran
    under) into ``row``. On CPU the tracked memory step is also the first warm-up step."""
    from pacabench.targets import build_target

    built = build_target(cell.kind, cell.name, cell.params, cell.height, cell.width, cell.batch,
                         device=device)
    model, inputs = prepare(built.module, built.inputs, mode=cell.mode,
                            channels_last=cell.channels_last, compile=cell.compile)
    step = make_step(model, inputs, mode=cell.mode, dtype=cell.dtype, device=device,
                     parameters=built.module.parameters())

    def timed(warmup: int):
        return time_step(step, device, warmup=warmup, min_repeats=cell.min_repeats,
                         min_time_s=cell.min_time_s)

    timing = load = None
    if device.type == "cuda":
        def on_cuda():
            with mem.CudaPeak(device) as peak:
                result = timed(cell.warmup) if wants_latency else step()
            return peak, result
        (peak, timing), load = measured_under(on_cuda, device)
        timing = timing if wants_latency else None
        if wants_memory:
            _fill_memory(row, peak.stats)
    else:
        warmed = 0
        if wants_memory:
            resident = mem.resident_bytes(mem.module_and_input_tensors(built.module, inputs))
            # The dispatch-level tracker cannot see inside compiled code: track an eager step then.
            tracked = step if not cell.compile else make_step(
                built.module, inputs, mode=cell.mode, dtype=cell.dtype, device=device,
                parameters=built.module.parameters())
            _fill_memory(row, mem.tracked_peak(tracked, resident, device.type))
            warmed = int(not cell.compile)
        if wants_latency:
            timing, load = measured_under(lambda: timed(max(cell.warmup - warmed, 0)), device)
    if timing is not None:
        img_s, tok_s = throughput(cell.batch, row["tokens"], timing.median_ms)
        row.update(latency_ms_median=timing.median_ms, latency_ms_p10=timing.p10_ms,
                   latency_ms_p90=timing.p90_ms, latency_samples=timing.samples,
                   latency_passes_ms=[timing.median_ms],
                   throughput_img_s=img_s, throughput_tok_s=tok_s,
                   mfu=mfu(row["gmacs"], cell.mode, timing.median_ms, row["device_name"], cell.dtype))
    if load is not None:
        row.update(cpu_threads=torch.get_num_threads(), load_avg_1m=load.load_avg_1m, cpu_steal_pct=load.cpu_steal_pct,
                   matmul_gflops_before=load.matmul_gflops_before,
                   matmul_gflops_after=load.matmul_gflops_after)


# Out-of-memory errors that do not arrive as torch.OutOfMemoryError: the CPU allocator's, and CUDA
# libraries' (cuBLAS / cuDNN workspaces, a kernel launch) that surface as a plain RuntimeError.
_OOM_MESSAGES = ("can't allocate memory", "out of memory", "_STATUS_ALLOC_FAILED")


def _is_oom(error: BaseException) -> bool:
    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(error, RuntimeError) and any(text in str(error) for text in _OOM_MESSAGES))


@contextlib.contextmanager
def _threads(threads: int | None):
    """torch's CPU threads set to ``threads`` (None: left alone) while the block runs."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure_cell(cell: Cell, on_progress: Callable[[dict], None] | None = None) -> dict:
    """Measure ``cell`` in this process; every ROW_COLUMNS key is present (None = not measured).

    ``on_progress`` gets the partial row once parameters, GMACs, bytes and the predicted peak memory
    are known (status still None), so a caller can keep them if the rest of the cell crashes.
    """
    start = time.perf_counter()
    row = _identity_row(cell)
    try:
        row["device_name"] = device_name(cell.device)
        if cell.timing_pass > 1:  # a later pass: the first one counted, predicted and measured the rest
            with _threads(cell.threads):
                _measure_built(cell, row, torch.device(cell.device), wants_memory=False, wants_latency=True)
        else:
            meta_built = _count(cell, row)
            measures = {"memory", "latency"} & set(cell.metrics)
            estimate = _predict_memory(cell, meta_built, row) if measures else None
            if on_progress is not None:
                on_progress(dict(row))
            if measures:
                with _threads(cell.threads):
                    _run(cell, row, estimate)
        row.update(status="ok", message=None)
    except _Skip as skip:
        row.update(status=skip.status, message=str(skip))
    except Exception as error:
        row.update(status="oom" if _is_oom(error) else "error", message=one_line(error))
    row["elapsed_s"] = time.perf_counter() - start
    return row


# --- isolation -------------------------------------------------------------------------------

# pacabench.measure first: it silences fvcore's import-time FutureWarning before fvcore loads.
_PRELOAD = ["pacabench.measure", "torch", "timm", "fvcore.nn", "pacabench", "pacabench.targets",
            "pacabench.measure.cell"]


def _context():
    """forkserver: children fork from a clean server that imported torch once (about 3 s saved per
    cell) and never initialised CUDA, whatever the parent did."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


_LAUNCH = threading.Lock()


class _CellPopen(popen_forkserver.Popen):
    """A forkserver child that does not run the parent's ``__main__`` again: multiprocessing re-runs
    a script in every child (as ``__mp_main__``), so a script calling ``api.run_suite`` at its top
    level, unguarded, would start its sweep again in each cell. A cell needs nothing from it."""

    def _launch(self, process_obj):
        with _LAUNCH:
            prepare = spawn.get_preparation_data
            spawn.get_preparation_data = functools.partial(_without_main, prepare)
            try:
                super()._launch(process_obj)
            finally:
                spawn.get_preparation_data = prepare


def _without_main(prepare: Callable, name: str) -> dict:
    data = prepare(name)
    for key in ("init_main_from_path", "init_main_from_name"):
        data.pop(key, None)
    return data


class _CellProcess(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _CellPopen(process_obj)


# The parent kills a cell at its time limit; the child's own alarm, this much later, holds the limit
# when the parent cannot (stopped, or killed between two checks).
_ALARM_GRACE_S = 5


def _bind_to_sweep(timeout_s: float) -> None:
    """Make this cell process unable to outlive its sweep or its time limit, whatever happens to
    the sweep (kill -9 included).

    A watchdog thread waits on the pipe multiprocessing keeps open to the sweep for this purpose and
    kills this process once the sweep is gone. (Its parent is the fork server, which lives as long as
    this process does, so a parent-death signal would never come.) A SIGALRM with its default action,
    which needs no Python code to run, ends it shortly after its time limit even if the sweep is
    stopped. Ctrl-C on a terminal reaches the whole process group; the sweep handles it and kills
    this process, so it is ignored here (no second traceback).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(math.ceil(timeout_s) + _ALARM_GRACE_S)
    sweep = multiprocessing.parent_process()
    if sweep is not None:
        threading.Thread(target=_die_with, args=(sweep,), name="pacabench-watchdog", daemon=True).start()


def _die_with(sweep) -> None:
    sweep.join()  # returns when the sweep's process has ended, however it ended
    os.kill(os.getpid(), signal.SIGKILL)


def _child(cell: Cell, conn, measure: Callable) -> None:
    _bind_to_sweep(cell.timeout_s)
    conn.send(measure(cell, on_progress=conn.send))
    conn.close()


def _exit_message(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (e.g. the kernel's out-of-memory killer)" if -code == signal.SIGKILL else ""
        return f"measurement process killed by {name}{hint}"
    return f"measurement process exited with code {code} before reporting"


def run_isolated(cell: Cell, measure: Callable = measure_cell) -> dict:
    """Measure ``cell`` in its own child process, killed after ``cell.timeout_s`` seconds.

    A hang becomes status "timeout", a crash "error" with the exit code; either keeps the
    parameters and GMACs if the child had counted them. ``measure`` (an importable function with
    :func:`measure_cell`'s signature) is what the child runs.
    """
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = _CellProcess(target=_child, args=(cell, sender, measure), name=f"pacabench-cell-{cell.name}")
    row = _identity_row(cell)
    try:  # from start(): a Ctrl-C that lands right after it still kills the child (else exit would join it)
        process.start()  # returns once the child exists: the clock starts after the server's preload
        start = time.perf_counter()
        sender.close()
        deadline = start + cell.timeout_s
        while True:  # partial rows (status None) until the final one, EOF (crash) or the deadline
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or not receiver.poll(remaining):
                status, message = "timeout", f"no result within the {cell.timeout_s:g} s time limit; killed"
                break
            try:
                row = receiver.recv()
            except EOFError:
                process.join()
                status, message = "error", _exit_message(process.exitcode)
                break
            if row["status"] is not None:
                return row
    finally:
        if process.pid is not None:  # started
            if process.is_alive():
                process.kill()
            process.join()
        receiver.close()
    row.update(status=status, message=message, elapsed_s=time.perf_counter() - start)
    return row
