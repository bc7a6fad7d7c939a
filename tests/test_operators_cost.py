"""Each operator's analytic cost equals what the measurement core counts, op class by op class
(mixing, dense, other), and grows as claimed."""
import pytest
from fvcore.nn import FlopCountAnalysis

from pacabench.measure.flop_handles import FVCORE_HANDLES
from pacabench.measure.flops import count_flops
from pacabench.operators import OPERATORS

# Token grids 56x56 (divisible by Swin's window 7), 64x64 and 72x72 (padded to 63 -> 70 and 77).
RESOLUTIONS = (224, 256, 288)
CASES = [
    ("paca", {}), ("paca", {"clusters": 49}), ("paca_mlp", {}), ("paca_linear", {}),
    ("swin", {}), ("swin", {"shift": True}), ("pvt", {}), ("pvt", {"sr_ratio": 4, "dim": 64, "heads": 1}),
    ("pvt_li", {}), ("vit", {}),
    # The explicit path (attention matrix materialised) does the same multiply-accumulates.
    ("paca", {"fused_attn": False}), ("swin", {"fused_attn": False}), ("pvt", {"fused_attn": False}),
    ("pvt_li", {"fused_attn": False}), ("vit", {"fused_attn": False}),
]


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}{p or ''}" for n, p in CASES])
def test_formula_equals_measured_macs_class_by_class(name, params, resolution):
    spec = OPERATORS[name]
    module, tokens = spec.build(resolution, resolution, 2, device="meta", **params)
    measured = count_flops(module, (tokens,))
    cost = spec.cost(resolution, resolution, 2, **params)
    assert measured.by_class == {op_class: cost[op_class] for op_class in ("mixing", "dense", "other")}
    assert measured.macs == cost["macs"] and measured.agree


def test_swin_padding_is_counted():
    """64x64 tokens are padded to 70x70 (100 windows of 49): cost as if there were 4900 tokens."""
    cost_64 = OPERATORS["swin"].cost(256, 256)
    cost_70 = OPERATORS["swin"].cost(280, 280)  # a 70x70 grid needs no padding
    assert cost_64 == cost_70
    assert cost_64["attn_matrix_elems"] == 2 * 100 * 49 * 49


def test_formula_values_at_224():
    """N = 3136, C = 96, h = 2, B = 1, written out by hand."""
    n, c = 3136, 96
    assert OPERATORS["vit"].cost(224, 224) == {
        "macs": 4 * n * c * c + 2 * n * n * c, "mixing": 2 * n * n * c, "dense": 4 * n * c * c, "other": 0,
        "attn_macs": 2 * n * n * c, "attn_matrix_elems": 2 * n * n}
    m = 100
    paca = OPERATORS["paca"].cost(224, 224)
    assert paca["dense"] == (n * c * 49 + n * c * c + n * c * m    # depthwise 7x7, 1x1, 1x1 to M
                             + 2 * n * c * c + 2 * m * c * c)      # q, proj; k, v
    assert paca["mixing"] == m * n * c + 2 * n * m * c             # z @ x; attention N -> M
    assert paca["other"] == 5 * m * c                              # cluster_norm
    assert OPERATORS["pvt"].cost(224, 224)["attn_matrix_elems"] == 2 * n * 49  # 56/8 = 7: 7x7 keys
    assert OPERATORS["pvt_li"].cost(224, 224)["attn_matrix_elems"] == 2 * n * 49


def _measured_attention_macs(name: str, resolution: int) -> int:
    """MACs of the attention kernel alone, from fvcore with the measurement core's SDPA handle."""
    module, tokens = OPERATORS[name].build(resolution, resolution, 1)
    analysis = FlopCountAnalysis(module, (tokens,)).set_op_handle(**FVCORE_HANDLES)
    analysis.unsupported_ops_warnings(False)
    return analysis.by_operator()["scaled_dot_product_attention"]


@pytest.mark.parametrize("name,factor", [("vit", 16), ("paca", 4), ("paca_mlp", 4), ("pvt_li", 4)])
def test_doubling_resolution_scales_attention(name, factor):
    """4x the tokens: global attention costs 16x, attention to a fixed number of keys 4x."""
    spec = OPERATORS[name]
    small, large = spec.cost(112, 112), spec.cost(224, 224)
    assert large["attn_macs"] == factor * small["attn_macs"]
    assert large["attn_matrix_elems"] == factor * small["attn_matrix_elems"]
    measured_small = _measured_attention_macs(name, 112)
    measured_large = _measured_attention_macs(name, 224)
    assert measured_small == small["attn_macs"]
    assert measured_large == factor * measured_small


def test_pvt_with_fixed_ratio_is_quadratic_with_small_constant():
    small, large = OPERATORS["pvt"].cost(448, 448), OPERATORS["pvt"].cost(896, 896)
    assert large["attn_macs"] == 16 * small["attn_macs"]
    assert small["attn_macs"] * 64 == OPERATORS["vit"].cost(448, 448)["attn_macs"]  # N^2 / R^2


def test_batch_multiplies_every_count():
    for spec in OPERATORS.values():
        one, three = spec.cost(128, 96, 1), spec.cost(128, 96, 3)
        assert three == {key: 3 * value for key, value in one.items()}


@pytest.mark.parametrize("name", ["paca", "pvt", "swin", "vit"])
def test_formula_equals_measured_macs_on_cpu(name):
    """Small cells are counted on the CPU (real tensors): the same count as on meta."""
    module, tokens = OPERATORS[name].build(128, 96, 1)
    measured, cost = count_flops(module, (tokens,)), OPERATORS[name].cost(128, 96)
    assert measured.by_class == {op_class: cost[op_class] for op_class in ("mixing", "dense", "other")}
