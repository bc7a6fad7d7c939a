"""Cells: every row column filled, budgets predicted, failures isolated in a child process."""
import os
import signal
import time

import pytest
import torch
from torch import nn

import pacabench.targets
from pacabench.measure import cell as cell_module
from pacabench.measure import memory as mem
from pacabench.measure.budget import TimeHint
from pacabench.measure.env import device_name
from pacabench.measure.cell import Cell, measure_cell, run_isolated
from pacabench.measure.schema import ROW_COLUMNS, STATUSES
from pacabench.targets import Built

CONTRACT_COLUMNS = (
    "cell_key kind name params_json resolution_h resolution_w tokens batch dtype device device_name "
    "mode channels_last compile status message params params_by_part gmacs gmacs_mixing gmacs_dense "
    "gmacs_other gmacs_backward gmacs_fvcore flops_method flops_agree uncounted_ops module_macs "
    "bytes_written bytes_written_mixing bytes_written_dense bytes_written_other module_bytes "
    "peak_mem_mb peak_mem_reserved_mb peak_mem_net_mb mem_method peak_mem_predicted_mb module_peak_bytes "
    "latency_ms_median latency_ms_p10 latency_ms_p90 latency_samples throughput_img_s "
    "throughput_tok_s mfu latency_passes_ms cpu_threads load_avg_1m cpu_steal_pct matmul_gflops_before "
    "matmul_gflops_after elapsed_s").split()

FAST = dict(warmup=1, min_repeats=2, min_time_s=0.0)


def test_row_columns_and_statuses_are_the_contract():
    assert list(ROW_COLUMNS) == CONTRACT_COLUMNS
    assert STATUSES == ("ok", "oom", "timeout", "skipped_budget", "error")


def test_cell_key_is_stable_and_changes_with_any_field():
    cell = Cell("operator", "paca", {"clusters": 49}, 224, 224)
    assert cell.key == Cell("operator", "paca", {"clusters": 49}, 224, 224).key
    assert cell.key.startswith("paca@224x224-b1-float32-cpu-inference-")
    others = [Cell("operator", "paca", {"clusters": 100}, 224, 224),
              Cell("operator", "paca", {"clusters": 49}, 224, 224, min_repeats=6)]
    assert len({cell.key, *(o.key for o in others)}) == 3
    assert len({cell, Cell("operator", "paca", {"clusters": 49}, 224, 224)}) == 1  # hashable


class AllocatesOneMiB(nn.Module):
    """Weights of 4000 bytes; its forward pass allocates exactly one 1 MiB tensor."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1000))

    def forward(self, x):
        return torch.zeros(2**18, device=x.device)


@pytest.fixture
def known_target(monkeypatch):
    def build(kind, name, params, height, width, batch, *, device="cpu", dtype=torch.float32):
        with torch.device(device):
            return Built(AllocatesOneMiB().eval(), (torch.zeros(batch, 3, height, width),),
                         tokens=height * width // 16)
    monkeypatch.setattr(pacabench.targets, "build_target", build)


def test_cell_allocating_a_known_tensor_reports_its_size(known_target):
    row = measure_cell(Cell("model", "known", {}, 32, 32, batch=2, **FAST))
    assert row["status"] == "ok", row["message"]
    assert set(row) == set(ROW_COLUMNS)
    assert row["peak_mem_net_mb"] == 1.0
    resident = 4000 + 2 * 3 * 32 * 32 * 4  # weights + input batch
    assert row["peak_mem_mb"] == pytest.approx(1.0 + resident / 2**20)
    assert row["mem_method"] == "cpu_live_tensors" and row["peak_mem_reserved_mb"] is None
    assert row["params"] == 1000 and row["gmacs"] == 0.0 and row["tokens"] == 64
    assert row["latency_samples"] >= 2
    assert row["throughput_img_s"] == pytest.approx(2 * 1000 / row["latency_ms_median"])
    assert row["throughput_tok_s"] == pytest.approx(64 * row["throughput_img_s"])
    assert row["mfu"] is None  # no peak known for a CPU


def test_flops_only_cell_counts_on_meta_and_times_nothing():
    row = measure_cell(Cell("model", "vit_small_patch16_224", {}, 224, 224, metrics=("flops", "params")))
    assert row["status"] == "ok"
    assert row["gmacs"] == pytest.approx(4.608, rel=0.005) and row["flops_agree"] is True
    assert row["gmacs"] == pytest.approx(row["gmacs_mixing"] + row["gmacs_dense"] + row["gmacs_other"])
    assert row["gmacs_fvcore"] == row["gmacs"] and row["gmacs_backward"] is None  # inference
    assert row["params"] == 22_050_664 and row["flops_method"] == "FlopCounterMode+pacabench/meta"
    assert sum(row["params_by_part"].values()) == row["params"]
    assert row["module_macs"]["blocks.0.attn"][0] == 2 * 197 * 197 * 384  # Q K^T and A V, mixing
    assert {"aten::add", "aten::gelu"} <= set(row["uncounted_ops"])
    assert row["latency_ms_median"] is None and row["peak_mem_mb"] is None


def test_time_budget_skips_with_the_prediction():
    smaller = TimeHint(0.1, 4.6, 1.0, "extrapolated from the 224 px cell", device_name("cpu"))
    row = measure_cell(Cell("model", "vit_small_patch16_224", {}, 2048, 2048, budget_seconds=1,
                            time_hint=smaller))
    assert row["status"] == "skipped_budget"
    assert row["message"].startswith("predicted ") and " s > budget 1 s (extrapolated from the 224 px" in row["message"]
    assert row["gmacs"] > 1000 and row["latency_ms_median"] is None


def test_memory_budget_skips_and_keeps_the_meta_estimate():
    row = measure_cell(Cell("model", "vit_small_patch16_224", {}, 1024, 1024, budget_memory_mb=10))
    assert row["status"] == "skipped_budget"
    assert row["message"].endswith("MB (meta-device estimate) > budget 10 MB")
    assert row["mem_method"] == "meta_live_tensors" and row["peak_mem_mb"] > 10


def test_predicted_ram_overflow_is_oom_without_running(monkeypatch):
    monkeypatch.setattr(mem, "available_ram_mb", lambda: 1.0)
    row = measure_cell(Cell("operator", "paca", {}, 256, 256, **FAST))
    assert row["status"] == "oom"
    assert row["message"].endswith("> available RAM 1 MB; not run")
    assert row["latency_ms_median"] is None and row["gmacs"] > 0


def test_explicit_attention_matrix_is_in_the_measured_peak():
    """op:vit at 128 px: 32 x 32 = 1024 tokens, 2 heads, so one attention matrix is 2 x 1024^2 float32
    = 8 MiB. fused_attn=false holds the scores and their softmax at once (16 MiB and more); SDPA
    never holds one."""
    matrix_mb = 2 * 1024**2 * 4 / 2**20
    explicit, fused = (measure_cell(Cell("operator", "vit", {"fused_attn": flag}, 128, 128,
                                         metrics=("memory",))) for flag in (False, True))
    assert explicit["status"] == fused["status"] == "ok"
    assert 2 * matrix_mb <= explicit["peak_mem_net_mb"] < 2 * matrix_mb + 2
    assert fused["peak_mem_net_mb"] < matrix_mb / 4


@pytest.mark.parametrize("error,status", [
    (RuntimeError("CUDA error: out of memory"), "oom"),
    (RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"), "oom"),
    (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 80 GB"), "oom"),
    (MemoryError(), "oom"),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), "error"),
])
def test_out_of_memory_in_any_form_is_an_oom_row(monkeypatch, error, status):
    def build(*args, device="cpu", **kwargs):
        if device != "meta":
            raise error
        return Built(nn.Identity(), (torch.empty(1, 4, device="meta"),), tokens=1)
    monkeypatch.setattr(pacabench.targets, "build_target", build)
    row = measure_cell(Cell("model", "fails_to_build", {}, 32, 32, **FAST))
    assert row["status"] == status
    assert row["message"] == f"{type(error).__name__}: {error}".strip()


def test_unknown_target_is_an_error_row_not_an_exception():
    row = measure_cell(Cell("model", "no_such_model_xyz", {}, 224, 224))
    assert row["status"] == "error"
    assert row["message"].startswith("TargetError: unknown model 'no_such_model_xyz'")
    assert row["elapsed_s"] is not None


# --- isolation: measure functions the child runs (importable, so picklable by reference) -----

def _partial(cell):
    return {**dict.fromkeys(ROW_COLUMNS), "cell_key": cell.key, "gmacs": 1.5}


def _exit_3(cell, on_progress):
    on_progress(_partial(cell))
    os._exit(3)


def _killed(cell, on_progress):
    os.kill(os.getpid(), signal.SIGKILL)


def _hangs(cell, on_progress):
    on_progress(_partial(cell))
    time.sleep(60)


def test_run_isolated_measures_in_a_child_like_in_process():
    cell = Cell("operator", "paca", {}, 64, 64, **FAST)
    row = run_isolated(cell)
    assert row["status"] == "ok", row["message"]
    assert row["gmacs"] == measure_cell(Cell("operator", "paca", {}, 64, 64, metrics=("flops",)))["gmacs"]
    assert row["latency_ms_median"] > 0 and row["peak_mem_net_mb"] > 0
    assert not torch.cuda.is_initialized()


def test_crash_in_the_child_is_an_error_row_keeping_the_count():
    row = run_isolated(Cell("operator", "paca", {}, 64, 64), measure=_exit_3)
    assert (row["status"], row["message"]) == ("error", "measurement process exited with code 3 before reporting")
    assert row["gmacs"] == 1.5


def test_killed_child_names_the_signal():
    row = run_isolated(Cell("operator", "paca", {}, 64, 64), measure=_killed)
    assert row["status"] == "error"
    assert row["message"] == "measurement process killed by SIGKILL (e.g. the kernel's out-of-memory killer)"


def test_hanging_child_times_out():
    start = time.perf_counter()
    row = run_isolated(Cell("operator", "paca", {}, 64, 64, timeout_s=1.5), measure=_hangs)
    assert time.perf_counter() - start < 10
    assert row["status"] == "timeout"
    assert row["message"] == "no result within the 1.5 s time limit; killed"
    assert row["gmacs"] == 1.5 and row["elapsed_s"] >= 1.5


def test_hanging_child_ends_itself_after_its_limit_when_its_parent_cannot_act():
    """The parent here never polls and never kills (as if stopped); the child's own alarm ends it a
    few seconds after its limit. (A sweep killed outright: test_runner_processes.py.)"""
    ctx = cell_module._context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=cell_module._child,
                          args=(Cell("operator", "paca", {}, 64, 64, timeout_s=0.5), sender, _hangs))
    start = time.perf_counter()
    process.start()
    sender.close()
    process.join(timeout=60)
    assert process.exitcode == -signal.SIGALRM
    assert cell_module._ALARM_GRACE_S <= time.perf_counter() - start < 60
    receiver.close()


def test_an_interrupt_right_after_the_cell_starts_still_kills_it(monkeypatch):
    """Ctrl-C reaches the sweep the moment the child exists (a cell can be running before start()
    returns): the child is killed and reaped, never left for the exit to join until its limit."""
    from multiprocessing.context import ForkServerProcess

    started, real_start = [], ForkServerProcess.start

    def start_then_interrupt(self):
        real_start(self)
        started.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(ForkServerProcess, "start", start_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_isolated(Cell("operator", "paca", {}, 64, 64, timeout_s=300), measure=_hangs)
    [process] = started
    assert process.exitcode == -signal.SIGKILL  # killed and joined by run_isolated itself


@pytest.mark.cuda
def test_cuda_cell_reports_allocator_peaks_net_of_resident(known_target):
    row = measure_cell(Cell("model", "known", {}, 32, 32, device="cuda", **FAST))
    assert row["status"] == "ok", row["message"]
    assert row["peak_mem_net_mb"] == 1.0
    assert row["mem_method"] == "cuda_max_memory_allocated"
    assert row["peak_mem_reserved_mb"] >= row["peak_mem_mb"]
    assert "NVIDIA" in row["device_name"]


@pytest.mark.cuda
def test_cuda_out_of_memory_is_a_row_and_the_next_cell_runs():
    """Explicit ViT attention at 8192 px (4.2M tokens) asks for a 140 TB attention matrix."""
    huge = run_isolated(Cell("operator", "vit", {"fused_attn": False}, 8192, 8192, device="cuda", **FAST))
    assert huge["status"] == "oom"
    assert huge["message"].startswith("OutOfMemoryError: CUDA out of memory")
    assert huge["gmacs"] > 1e6  # counted on meta all the same
    small = run_isolated(Cell("operator", "vit", {}, 224, 224, device="cuda", **FAST))
    assert small["status"] == "ok" and 0 < small["peak_mem_net_mb"] < 100


@pytest.mark.cuda
def test_cuda_cell_in_bf16_reports_mfu():
    row = run_isolated(Cell("model", "vit_small_patch16_224", {}, 224, 224, batch=32, dtype="bfloat16",
                            device="cuda", min_time_s=0.2))
    assert row["status"] == "ok", row["message"]
    assert 0 < row["mfu"] < 1
    assert row["latency_ms_p10"] <= row["latency_ms_median"] <= row["latency_ms_p90"]


def test_train_cell_counts_the_backward_pass_beside_the_forward():
    inference = measure_cell(Cell("operator", "vit", {}, 64, 64, metrics=("flops", "params")))
    train = measure_cell(Cell("operator", "vit", {}, 64, 64, mode="train", metrics=("flops", "params")))
    assert train["gmacs"] == inference["gmacs"] and inference["gmacs_backward"] is None
    n, c = 16 * 16, 96
    # weight gradients of qkv and proj, proj's input gradient, attention's backward (2x its forward)
    assert train["gmacs_backward"] * 1e9 == 4 * n * c * c + n * c * c + 2 * (2 * n * n * c)
