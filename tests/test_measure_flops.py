"""FLOP counting: exact formulas, the mixing / dense / other split, module attribution, the backward
pass, the fvcore cross-check on the same op set, the required model figures, meta == CPU."""
import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn

import pacabench  # noqa: F401  (registers the PaCa zoo with timm)
from pacabench.measure.flop_handles import sdpa_macs
from pacabench.measure.flops import count_flops, count_params, params_by_part


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
def test_sdpa_counts_exactly_2_B_h_N_N_d_all_mixing(device):
    B, h, N, d = 2, 3, 50, 16
    q, k, v = (torch.randn(B, h, N, d, device=device) for _ in range(3))
    result = count_flops(Attention(), (q, k, v))
    assert result.macs == result.by_class["mixing"] == 2 * B * h * N * N * d
    assert result.by_class["dense"] == result.by_class["other"] == 0
    assert result.fvcore_macs == result.macs and result.agree  # fvcore with pacabench's SDPA handle
    assert result.method == f"FlopCounterMode+pacabench/{device}"
    assert not any("attention" in op for op in result.uncounted_ops)


def test_sdpa_formula_with_cross_attention_shapes():
    # Q K^T: B*h*Nq*Nk*d; (softmax) V: B*h*Nq*Nk*dv
    assert sdpa_macs((2, 4, 10, 8), (2, 4, 7, 8), (2, 4, 7, 5)) == 2 * 4 * 10 * 7 * 8 + 2 * 4 * 10 * 7 * 5
    q, k, v = torch.randn(2, 4, 10, 8), torch.randn(2, 4, 7, 8), torch.randn(2, 4, 7, 5)
    assert count_flops(Attention(), (q, k, v)).macs == 2 * 4 * 10 * 7 * (8 + 5)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_same_padding_convolution_is_counted_as_dense(device):
    with torch.device(device):
        module, x = SameConv(), torch.randn(1, 8, 12, 12)
    result = count_flops(module, (x,))
    assert result.macs == result.by_class["dense"] == 16 * 8 * 3 * 3 * 12 * 12
    assert result.fvcore_macs == result.macs and result.agree


class LearnedQueries(nn.Module):
    """Products of every provenance: input x input, parameter x input, a cast parameter x input."""

    def __init__(self, dim=8, queries=5):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(queries, dim))
        self.proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x):                                   # x: B x N x C
        gram = x @ x.transpose(1, 2)                        # mixing: B N N C
        pooled = self.queries @ x.transpose(1, 2)           # dense: parameter x input, B M N C
        scaled = x @ self.proj.weight.double().float().t()  # dense: a cast weight is still a weight
        return gram.sum() + pooled.sum() + scaled.sum()


def test_op_class_follows_what_is_multiplied_not_the_op_name():
    B, N, C, M = 2, 6, 8, 5
    result = count_flops(LearnedQueries(C, M), (torch.randn(B, N, C),), crosscheck=False)
    assert result.by_class == {"mixing": B * N * N * C, "dense": B * M * N * C + B * N * C * C, "other": 0}


def test_baddbmm_of_masked_multi_head_attention_is_counted():
    class Masked(nn.Module):
        def forward(self, bias, a, b):
            return torch.baddbmm(bias, a, b)

    result = count_flops(Masked(), (torch.zeros(4, 10, 7), torch.randn(4, 10, 8), torch.randn(4, 8, 7)))
    assert result.macs == result.by_class["mixing"] == 4 * 10 * 8 * 7
    assert result.agree


def test_norms_follow_fvcore_conventions_as_other():
    """Layer norm 5 per element (affine), batch norm at inference 2 per element, as fvcore."""
    module = nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), nn.BatchNorm2d(4), nn.GroupNorm(2, 4)).eval()
    x = torch.randn(2, 3, 5, 5)
    result = count_flops(module, (x,))
    elements = 2 * 4 * 5 * 5
    assert result.by_class == {"mixing": 0, "dense": elements * 3, "other": 2 * elements + 5 * elements}
    assert result.fvcore_macs == result.macs


def test_every_mac_is_attributed_to_its_modules():
    model, x = _meta_model("pacavit_tiny_p2cconv_100_0", 224)
    result = count_flops(model, (x,), crosscheck=False)
    whole = result.modules[""]
    assert whole == result.by_class and sum(whole.values()) == result.macs
    stages = ["patch_embed", "stage1", "norm1", "transition1", "stage2", "norm2", "transition2", "stage3",
              "norm3", "transition3", "stage4", "norm4", "head"]
    assert sum(sum(result.modules[s].values()) for s in stages) == result.macs
    # A ModuleList of blocks never runs a forward of its own: its total is the sum of its blocks.
    assert result.modules["stage1"] == {c: sum(result.modules[f"stage1.{i}"][c] for i in range(2))
                                        for c in whole}
    # Stage 4 has no clusters: global attention, N/64 tokens to N/64 tokens, C = 384.
    n4 = (224 // 32) ** 2
    assert result.modules["stage4.0.attn"]["mixing"] == 2 * n4 * n4 * 384
    assert set(result.module_macs(depth=2)) >= {"stage1", "stage1.0", "head"}
    assert not any(path.count(".") >= 2 for path in result.module_macs(depth=2))


def test_params_by_part_adds_up_and_names_the_module_own_parameters():
    model, _ = _meta_model("deit_small_patch16_224", 224)
    parts = params_by_part(model)
    assert sum(parts.values()) == count_params(model)
    assert parts["(self)"] == (196 + 1) * 384 + 384  # position embedding and class token
    assert parts["blocks"] == 12 * 1_774_464


@pytest.mark.parametrize("groups", [1, 16])
def test_backward_of_a_grouped_convolution_is_twice_its_forward(groups):
    """Input and weight gradients each cost what the forward does; torch's own formula charges a
    depthwise convolution's weight gradient ``groups`` times too much."""
    module = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=groups))
    x = torch.randn(2, 16, 8, 8)
    result = count_flops(module, (x,), backward=True)
    forward = 2 * 16 * (16 // groups) * 9 * 64
    assert result.macs == forward
    assert result.backward_macs == forward  # no input gradient: the first layer's input needs none


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_backward_counts_sdpa_backward_and_weight_gradients(device):
    """The same count whichever attention kernel the device runs (flash on CPU, math on meta)."""
    C, N = 32, 49
    with torch.device(device):
        model = timm.models.vision_transformer.Attention(C, num_heads=2, qkv_bias=True)
        x = torch.randn(1, N, C)
    result = count_flops(model, (x,), backward=True)
    linears = 4 * N * C * C          # forward: qkv, proj
    attention = 2 * N * N * C        # forward: Q K^T, attention V
    assert result.macs == linears + attention
    # backward: weight gradients of both linears, input gradient of proj (qkv's input needs none),
    # and attention's four gradient products (dV, dP, dQ, dK): twice its forward
    assert result.backward_macs == linears + N * C * C + 2 * attention


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
def test_required_figures_and_both_counters_agree_exactly(name, size, kwargs, expected):
    model, x = _meta_model(name, size, **kwargs)
    result = count_flops(model, (x,))
    assert result.gmacs == pytest.approx(expected, rel=0.005)
    assert result.agree and result.fvcore_macs == result.macs  # same op set, same count
    assert sum(result.by_class.values()) == result.macs and result.by_class["mixing"] > 0


def test_uncounted_ops_are_listed_not_dropped():
    model, x = _meta_model("swin_tiny_patch4_window7_224", 224)
    uncounted = count_flops(model, (x,)).uncounted_ops
    assert {"aten::gelu", "aten::add"} <= set(uncounted)
    assert not {"aten::view", "aten::_unsafe_view", "aten::permute", "aten::clone"} & set(uncounted)


@pytest.mark.parametrize("name", ["pvt_v2_b0", "pacavit_tiny_p2cconv_100_0"])
def test_meta_counts_what_a_real_pass_counts(name):
    """Convolutions, SDPA and all: the meta-device count reproduces the CPU count exactly, split and
    module by module (the attention kernel differs: flash on CPU, math on meta; its MACs do not)."""
    real = timm.create_model(name).eval()
    meta, x_meta = _meta_model(name, 64)
    on_cpu = count_flops(real, (torch.randn(1, 3, 64, 64),))
    on_meta = count_flops(meta, (x_meta,))
    assert on_meta.by_class == on_cpu.by_class
    assert on_meta.modules == on_cpu.modules
    assert on_meta.fvcore_macs == on_cpu.fvcore_macs
    assert count_params(meta) == count_params(real)


def test_vit_at_4096_px_is_counted_exactly_on_meta():
    model, x = _meta_model("vit_small_patch16_224", 4096, img_size=4096)
    result = count_flops(model, (x,))
    n, blocks, heads, head_dim, width = (4096 // 16) ** 2 + 1, 12, 6, 64, 384
    attention = blocks * 2 * heads * n * n * head_dim   # QK^T and AV of every block
    linears = blocks * 12 * width**2 * n               # qkv (3C^2), proj (C^2), MLP (8C^2) per token
    patch_embed = (n - 1) * 3 * 16 * 16 * width
    head = width * 1000
    norms = (2 * blocks + 1) * 5 * n * width            # fvcore's 5 per element of a layer norm
    assert result.by_class == {"mixing": attention, "dense": linears + patch_embed + head, "other": norms}
    assert attention / result.macs > 0.96               # what fvcore alone would have dropped
    assert result.agree


class NearestUpsample(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="nearest")


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_nearest_upsampling_is_counted_as_itself_not_decomposed(device):
    """FlopCounterMode decomposes ops with a composite kernel before counting; an FPN's nearest
    upsampling would then vanish into index arithmetic. pacabench counts it as fvcore does."""
    x = torch.empty(1, 4, 5, 7, device=device)
    result = count_flops(NearestUpsample(), (x,))
    assert result.by_class == {"mixing": 0, "dense": 0, "other": 4 * 10 * 14}
    assert result.fvcore_macs == result.macs and result.uncounted_ops == []


def test_uncounted_ops_carry_their_namespace():
    import torchvision

    class Pool(nn.Module):
        def forward(self, x, boxes):
            return torchvision.ops.roi_align(x, boxes, 2)

    uncounted = count_flops(Pool(), (torch.randn(1, 2, 8, 8), torch.tensor([[0.0, 0, 0, 4, 4]]))).uncounted_ops
    assert "torchvision::roi_align" in uncounted
