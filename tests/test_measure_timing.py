"""Timing loop, steps, throughput, MFU table and environment capture."""
import re
import time

import pytest
import torch
from torch import nn

from pacabench.measure.env import capture_env, git_commit
from pacabench.measure.mfu import mfu, peak_tflops
from pacabench.measure.timing import make_step, prepare, throughput, time_step

CPU = torch.device("cpu")


def test_time_step_runs_warmup_then_until_min_count_and_min_time():
    starts, ends = [], []

    def step():
        starts.append(time.perf_counter())
        time.sleep(0.005)
        ends.append(time.perf_counter())

    timing = time_step(step, CPU, warmup=3, min_repeats=4, min_time_s=0.1)
    assert len(starts) == 3 + timing.samples
    assert timing.samples >= 4 and ends[-1] - starts[3] >= 0.1  # timed steps spanned min_time_s
    assert 5 <= timing.p10_ms <= timing.median_ms <= timing.p90_ms


def test_time_step_respects_min_count_when_time_is_already_spent():
    timing = time_step(lambda: time.sleep(0.02), CPU, warmup=0, min_repeats=3, min_time_s=0.0)
    assert timing.samples == 3
    assert timing.median_ms >= 20


def test_train_step_updates_weights_and_inference_step_does_not_track_grads():
    model = nn.Linear(4, 2)
    before = model.weight.detach().clone()
    x = torch.randn(3, 4)
    out = make_step(model, (x,), mode="inference", dtype="float32", device=CPU)()
    assert not out.requires_grad and torch.equal(model.weight, before)
    module, inputs = prepare(model, (x,), mode="train", channels_last=False, compile=False)
    assert module.training
    make_step(module, inputs, mode="train", dtype="float32", device=CPU,
              parameters=model.parameters())()
    assert not torch.equal(model.weight, before)


def test_bf16_autocast_and_channels_last():
    model, inputs = prepare(nn.Conv2d(3, 4, 3), (torch.randn(1, 3, 8, 8),), mode="inference",
                            channels_last=True, compile=False)
    assert inputs[0].is_contiguous(memory_format=torch.channels_last)
    out = make_step(model, inputs, mode="inference", dtype="bfloat16", device=CPU)()
    assert out.dtype == torch.bfloat16


def test_throughput_in_images_and_tokens():
    assert throughput(batch=4, tokens=196, median_ms=100.0) == (40.0, 7840.0)
    assert throughput(batch=1, tokens=None, median_ms=50.0) == (20.0, None)


def test_mfu_uses_the_dense_peak_of_the_device_and_dtype():
    # 100 GMACs = 200 GFLOP in 1 ms = 200 TFLOP/s on an H100 SXM (989.4 dense bf16)
    assert mfu(100, "inference", 1.0, "NVIDIA H100 80GB HBM3", "bfloat16") == pytest.approx(200 / 989.4)
    assert mfu(100, "train", 3.0, "NVIDIA H200", "bfloat16") == pytest.approx(200 / 989.4)
    assert peak_tflops("NVIDIA H100 PCIe", "bfloat16") == 756.0
    assert peak_tflops("NVIDIA L40S", "float16") == 362.0 and peak_tflops("NVIDIA L4", "float16") == 121.0
    assert peak_tflops("NVIDIA A10G", "bfloat16") is None      # not an A10, not guessed
    assert peak_tflops("Tesla V100-SXM2-16GB", "bfloat16") is None
    assert mfu(100, "inference", 1.0, "AMD EPYC 7B13", "float32") is None


def test_env_capture_names_versions_device_and_commit():
    env = capture_env()
    assert env["torch"] == torch.__version__
    assert env["timm"] and env["fvcore"] and env["python"] and env["cpu_model"]
    assert env["torch_threads"] == torch.get_num_threads()
    commit = git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", commit)
    assert env["git_commit"] == commit


@pytest.mark.cuda
def test_cuda_timing_uses_device_time():
    a = torch.randn(2048, 2048, device="cuda")
    timing = time_step(lambda: a @ a, torch.device("cuda"), warmup=2, min_repeats=5, min_time_s=0.05)
    assert timing.samples >= 5 and 0 < timing.p10_ms <= timing.median_ms <= timing.p90_ms
