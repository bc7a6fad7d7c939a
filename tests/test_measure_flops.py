"""FLOP counting: exact attention/convolution formulas, the required model figures, meta == CPU."""
import time

import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import flop_counter

import pacabench  # noqa: F401  (registers the PaCa zoo with timm)
from pacabench.measure.flop_handles import register_flop_counter_formulas, sdpa_macs
from pacabench.measure.flops import count_flops, count_params


class Attention(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


class SameConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 16, 3, padding="same", bias=False)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_sdpa_counts_exactly_2_B_h_N_N_d(device):
    B, h, N, d = 2, 3, 50, 16
    q, k, v = (torch.randn(B, h, N, d, device=device) for _ in range(3))
    result = count_flops(Attention(), (q, k, v))
    assert round(result.gmacs * 1e9) == 2 * B * h * N * N * d
    assert round(result.gmacs_flopcounter * 1e9) == 2 * B * h * N * N * d  # CPU gap filled
    assert result.agree and result.method == f"fvcore+handles/{device}"
    assert result.uncounted_ops == []


def test_sdpa_formula_with_cross_attention_shapes():
    # Q K^T: B*h*Nq*Nk*d; (softmax) V: B*h*Nq*Nk*dv
    assert sdpa_macs((2, 4, 10, 8), (2, 4, 7, 8), (2, 4, 7, 5)) == 2 * 4 * 10 * 7 * 8 + 2 * 4 * 10 * 7 * 5
    q, k, v = torch.randn(2, 4, 10, 8), torch.randn(2, 4, 7, 8), torch.randn(2, 4, 7, 5)
    assert round(count_flops(Attention(), (q, k, v)).gmacs * 1e9) == 2 * 4 * 10 * 7 * (8 + 5)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_same_padding_convolution_is_counted(device):
    with torch.device(device):
        module, x = SameConv(), torch.randn(1, 8, 12, 12)
    result = count_flops(module, (x,))
    assert round(result.gmacs * 1e9) == 16 * 8 * 3 * 3 * 12 * 12
    assert "aten::_convolution_mode" not in result.uncounted_ops
    assert result.agree


def test_baddbmm_of_masked_multi_head_attention_is_counted():
    class Masked(nn.Module):
        def forward(self, bias, a, b):
            return torch.baddbmm(bias, a, b)

    result = count_flops(Masked(), (torch.zeros(4, 10, 7), torch.randn(4, 10, 8), torch.randn(4, 8, 7)))
    assert round(result.gmacs * 1e9) == 4 * 10 * 8 * 7
    assert result.agree


def test_flop_counter_formula_registration_is_idempotent():
    register_flop_counter_formulas()
    register_flop_counter_formulas()
    assert torch.ops.aten._scaled_dot_product_flash_attention_for_cpu in flop_counter.flop_registry


def _meta_model(name: str, size: int, **kwargs):
    with torch.device("meta"):
        return timm.create_model(name, **kwargs).eval(), torch.randn(1, 3, size, size)


# Figures a reviewer can check against the released numbers (GMACs, 1 MAC = 1 FLOP).
REQUIRED = [
    ("vit_small_patch16_224", 224, {}, 4.608),
    ("vit_small_patch16_224", 896, {"img_size": 896}, 158.38),
    ("pvt_v2_b1", 224, {}, 2.120),
    ("swin_tiny_patch4_window7_224", 224, {}, 4.509),
    ("pacavit_tiny_p2cconv_100_0", 224, {}, 3.237),
    ("pacavit_tiny_p2cconv_100_0", 448, {}, 12.689),
]


@pytest.mark.parametrize("name,size,kwargs,expected", REQUIRED,
                         ids=[f"{n}@{s}" for n, s, _, _ in REQUIRED])
def test_required_figures(name, size, kwargs, expected):
    model, x = _meta_model(name, size, **kwargs)
    result = count_flops(model, (x,))
    assert result.gmacs == pytest.approx(expected, rel=0.005)
    assert result.agree, (result.gmacs, result.gmacs_flopcounter)
    assert not any("attention" in op or "conv" in op for op in result.uncounted_ops)


def test_uncounted_ops_are_listed_not_dropped():
    model, x = _meta_model("swin_tiny_patch4_window7_224", 224)
    uncounted = count_flops(model, (x,)).uncounted_ops
    assert {"aten::softmax", "aten::gelu", "aten::add"} <= set(uncounted)
    assert "aten::view" not in uncounted  # shape-only ops are not FLOPs


@pytest.mark.parametrize("name", ["pvt_v2_b0", "pacavit_tiny_p2cconv_100_0"])
def test_meta_trace_counts_what_a_real_trace_counts(name):
    """Convolutions, SDPA and all: the meta-device trace reproduces the CPU trace exactly."""
    real = timm.create_model(name).eval()
    meta, x_meta = _meta_model(name, 64)
    on_cpu = count_flops(real, (torch.randn(1, 3, 64, 64),))
    on_meta = count_flops(meta, (x_meta,))
    assert on_meta.gmacs == on_cpu.gmacs
    assert on_meta.uncounted_ops == on_cpu.uncounted_ops
    assert on_meta.gmacs_flopcounter == pytest.approx(on_cpu.gmacs_flopcounter, rel=1e-9)
    assert count_params(meta) == count_params(real)


def test_vit_at_4096_px_is_counted_in_seconds_without_memory():
    model, x = _meta_model("vit_small_patch16_224", 4096, img_size=4096)
    start = time.perf_counter()
    result = count_flops(model, (x,))
    assert time.perf_counter() - start < 15
    n, blocks, heads, head_dim, width = (4096 // 16) ** 2 + 1, 12, 6, 64, 384
    attention = blocks * 2 * heads * n * n * head_dim   # QK^T and AV of every block
    linears = blocks * 12 * width**2 * n               # qkv (3C^2), proj (C^2), MLP (8C^2) per token
    patch_embed = (n - 1) * 3 * 16 * 16 * width
    assert result.gmacs * 1e9 == pytest.approx(attention + linears + patch_embed, rel=1e-4)  # + norms
    assert attention / (result.gmacs * 1e9) > 0.96      # what fvcore alone would have dropped
    assert result.agree
