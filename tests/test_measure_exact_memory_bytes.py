"""Peak memory and bytes written are exact: the meta-device prediction is the CPU measurement byte for
byte, attention follows the device's kernel (fused: no N x N tensor; explicit: N x N scores and
weights), and both fit an exact c0 + c1·N + c2·N² with the modules that carry c2."""
import json

import pandas as pd
import pytest
import torch
from torch import nn

from pacabench import api
from pacabench.analysis.scaling import series_scaling
from pacabench.analysis.target_scaling import count_rows, count_scaling
from pacabench.measure import memory as mem
from pacabench.measure.attention_kernels import EFFICIENT, FLASH, MATH, cpu_backend, cuda_backend
from pacabench.measure.cell import Cell, measure_cell
from pacabench.measure.counts import count_target
from pacabench.targets import parse_target

MEMORY_ONLY = dict(metrics=("flops", "params", "memory"))


@pytest.mark.parametrize("spec, size, mode", [
    ("op:paca", 224, "inference"),
    ("op:vit", 224, "inference"),
    ("op:vit?fused_attn=false", 224, "inference"),
    ("op:swin", 224, "inference"),
    ("op:pvt", 224, "inference"),
    ("op:vit", 224, "train"),   # autograd: on meta SDPA used to decompose into math, 240 MB instead of 11 MB
    ("pacavit_tiny_p2cconv_100_0", 128, "inference"),
    ("deit_small_patch16_224", 112, "inference"),
])
def test_measured_cpu_peak_is_the_predicted_peak_byte_for_byte(spec, size, mode):
    kind, name, params = parse_target(spec)
    row = measure_cell(Cell(kind, name, params, size, size, mode=mode, **MEMORY_ONLY))
    assert row["status"] == "ok" and row["mem_method"] == "cpu_live_tensors"
    assert row["peak_mem_mb"] * mem.MB == row["peak_mem_predicted_mb"] * mem.MB  # same bytes, no tolerance
    assert row["peak_mem_predicted_mb"] * mem.MB == int(row["peak_mem_predicted_mb"] * mem.MB)


def test_a_skipped_cell_and_the_partial_row_keep_the_prediction():
    partial = []
    row = measure_cell(Cell("operator", "vit", {"fused_attn": False}, 224, 224, budget_memory_mb=10),
                       on_progress=partial.append)
    assert row["status"] == "skipped_budget"
    # resident: weights (37,248 params) and the input (3136 x 96 floats); live: scores and weights
    # (2 x 2 x 3136² floats) plus the projections around them, at the peak
    assert row["peak_mem_predicted_mb"] * mem.MB == 4 * (37_248 + 3136 * 96) + 162_168_832
    assert partial[0]["status"] is None and partial[0]["peak_mem_predicted_mb"] == row["peak_mem_predicted_mb"]
    # each module's own peak: the attention's at its scores and weights
    assert partial[0]["module_peak_bytes"] == {"attn": 162_168_832, "attn.qkv": 3_612_672, "attn.proj": 1_204_224}


B, H, N, C = 2, 2, 3136, 96  # op:vit at 224 px, batch 2: 2 heads of 48 over 56 x 56 tokens


def _bytes(spec: str) -> dict:
    kind, name, params = parse_target(spec)
    return count_target(kind, name, params, 224, 224, B, crosscheck=False).row()


def test_explicit_attention_writes_its_scores_and_weights_fused_does_not():
    explicit, fused = _bytes("op:vit?fused_attn=false"), _bytes("op:vit")
    square, tokens = B * H * N * N * 4, B * N * C * 4
    assert explicit["bytes_written_dense"] == fused["bytes_written_dense"] == 3 * tokens + tokens  # qkv, proj
    assert explicit["bytes_written_mixing"] == square + tokens          # Q K^T, A V
    # softmax; q * scale, then q, k^T and v copied for bmm (batch 2 cannot fold into a view), heads merged
    assert explicit["bytes_written_other"] == square + 5 * tokens
    assert fused["bytes_written_mixing"] == tokens + B * H * N * 4      # CPU flash: output, logsumexp
    assert fused["bytes_written_other"] == 0
    assert explicit["module_bytes"]["attn"] == [square + tokens, 4 * tokens, square + 5 * tokens]


SIZES = [(r, r) for r in (64, 128, 192, 256)]


def _table(spec: str):
    kind, name, params = parse_target(spec)
    rows = count_rows(lambda h, w: count_target(kind, name, params, h, w, crosscheck=False), SIZES,
                      kind=kind, name=name, params=params, label=spec)
    return count_scaling(rows).set_index("metric")


def test_exact_cost_models_of_the_peak_and_the_bytes_follow_the_kernel():
    explicit, fused = _table("op:vit?fused_attn=false"), _table("op:vit")
    for metric in ("peak_mem_predicted_mb", "bytes_written"):
        assert explicit.loc[metric, "verdict"] == "quadratic" and explicit.loc[metric, "method"] == "exact"
        assert explicit.loc[metric, "quadratic_modules"] == "attn"
        assert fused.loc[metric, "verdict"] == "linear" and fused.loc[metric, "c2"] == 0.0
        assert fused.loc[metric, "max_residual"] == 0.0
    # two heads of N x N float32 (scores and softmax weights), live together and both written
    assert explicit.loc["peak_mem_predicted_mb", "c2"] == 2 * 2 * 4 / mem.MB
    assert explicit.loc["bytes_written", "c2"] == 2 * 2 * 4
    assert explicit.loc["gmacs", "verdict"] == fused.loc["gmacs", "verdict"] == "quadratic"


class _Mask(nn.Module):
    """A local-window mask over all token pairs: N² bytes, not one multiply."""

    def forward(self, x):
        index = torch.arange(x.shape[1], device=x.device)
        near = (index[:, None] - index[None, :]).abs() < 3  # int64, int64, bool: 17 bytes per pair
        return x + near.sum(-1, keepdim=True).to(x.dtype)


class _MaskedMixer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.mask, self.proj = _Mask(), nn.Linear(dim, dim)

    def forward(self, x):
        return self.proj(self.mask(x))


def masked_mixer(height, width, batch):
    return _MaskedMixer(32), torch.randn(batch, (height // 4) * (width // 4), 32)


def test_an_n_squared_mask_is_quadratic_bytes_with_no_mixing_macs():
    model = api.cost_model(masked_mixer, resolutions=(64, 128, 192, 256))
    table = model.table.set_index("metric")
    assert (model.counts["gmacs_mixing"] == 0).all() and table.loc["gmacs_mixing", "c2"] == 0  # no attention
    assert table.loc["gmacs", "verdict"] == "linear"
    written = table.loc["bytes_written"]
    assert written["verdict"] == "quadratic" and written["method"] == "exact"
    assert written["c2"] == 17 and written["quadratic_modules"] == "mask"


@pytest.mark.parametrize("case", ["plain", "bool mask", "float mask", "dropout", "strided head dim"])
def test_cpu_kernel_choice_on_meta_is_torchs_choice_on_cpu(case):
    def tensors(device):
        q = torch.ones(1, 2, 64, 16, device=device)
        kwargs = {"bool mask": {"attn_mask": torch.ones(64, 64, dtype=torch.bool, device=device)},
                  "float mask": {"attn_mask": torch.zeros(64, 64, device=device)},
                  "dropout": {"dropout_p": 0.1}}.get(case, {})
        if case == "strided head dim":
            q = torch.ones(1, 2, 16, 64, device=device).transpose(-1, -2)
        return (q, q, q), kwargs

    (q, k, v), kwargs = tensors("cpu")
    real = int(torch._fused_sdp_choice(q, k, v, **kwargs))
    assert cpu_backend(*tensors("meta")[0], **tensors("meta")[1]) == real
    assert real == (MATH if case in ("dropout", "strided head dim") else FLASH)


def test_cuda_kernel_rules_on_meta():
    def q(dtype, head=64):
        return torch.empty(1, 2, 64, head, device="meta", dtype=dtype)

    assert cuda_backend(q(torch.bfloat16), q(torch.bfloat16), q(torch.bfloat16)) == FLASH
    assert cuda_backend(q(torch.float32), q(torch.float32), q(torch.float32)) == EFFICIENT
    mask = torch.empty(64, 64, device="meta", dtype=torch.bfloat16)
    assert cuda_backend(q(torch.bfloat16), q(torch.bfloat16), q(torch.bfloat16), mask) == EFFICIENT
    assert cuda_backend(q(torch.float32, 6), q(torch.float32, 6), q(torch.float32, 6)) == MATH


def test_a_peak_that_moves_to_an_n_squared_point_is_quadratic_with_its_module():
    """A backbone with explicit attention in its last stage only: its peak is the early stage's
    activations at small sizes, the last stage's N x N weights at large ones (max of two polynomials)."""
    sides = [224, 448, 896, 1344, 2240, 4032]
    tokens = [(side // 4) ** 2 for side in sides]
    early = [1000 * n for n in tokens]
    attention = [(n // 64) ** 2 * 64 for n in tokens]  # stage 4: N/64 tokens, 16 heads x 4 bytes
    part = pd.DataFrame({
        "tokens": tokens, "resolution_h": sides, "resolution_w": sides,
        "peak_mem_predicted_mb": [max(a, b) / mem.MB for a, b in zip(early, attention)],
        "module_peak_bytes": [json.dumps({"stage1": a, "stage4.0.attn": b}) for a, b in zip(early, attention)],
    })
    result = series_scaling(part, "peak_mem_predicted_mb")
    assert result.verdict == "quadratic" and result.method == "not a polynomial"
    assert result.quadratic_modules == "stage4.0.attn"
    assert "the peak moves from one point of the pass to another" in result.reason
    assert "from 1344 px to 4032 px" in result.reason
