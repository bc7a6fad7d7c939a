"""Operators build the wrapped library layers, run forward and backward, and reject bad parameters."""
import pytest
import torch
from timm.models import pvt_v2, swin_transformer, vision_transformer

from pacabench.models import PaCaAttention
from pacabench.operators import OPERATORS

EXPECTED_NAMES = {"paca", "paca_mlp", "paca_linear", "swin", "pvt", "pvt_li", "vit"}


def test_registry_names_and_descriptions():
    assert set(OPERATORS) == EXPECTED_NAMES
    for spec in OPERATORS.values():
        assert spec.description and "\n" not in spec.description
        assert {"stride": 4, "dim": 96, "heads": 2, "fused_attn": True}.items() <= spec.defaults.items()
    assert OPERATORS["paca"].defaults["clusters"] == 100
    assert OPERATORS["pvt"].defaults["sr_ratio"] == 8
    assert OPERATORS["swin"].defaults == {"stride": 4, "dim": 96, "heads": 2, "fused_attn": True,
                                          "window": 7, "shift": False}


@pytest.mark.parametrize("name,layer", [
    ("paca", PaCaAttention), ("paca_linear", PaCaAttention), ("swin", swin_transformer.WindowAttention),
    ("pvt", pvt_v2.Attention), ("pvt_li", pvt_v2.Attention), ("vit", vision_transformer.Attention),
])
def test_wraps_the_library_layer(name, layer):
    module, _ = OPERATORS[name].build(64, 64, 1, device="meta")
    assert any(type(m) is layer for m in module.modules())


@pytest.mark.parametrize("name,params", [
    ("paca", {}), ("paca_mlp", {"clusters": 7}), ("paca_linear", {}), ("swin", {}),
    ("swin", {"shift": True}), ("pvt", {"sr_ratio": 4}), ("pvt_li", {}), ("vit", {"dim": 32, "heads": 4}),
])
def test_forward_backward(name, params):
    """A 15x18 token grid (60x72 px): not divisible by the 7x7 window, odd-sized PaCa/PVT grids."""
    torch.manual_seed(0)
    module, tokens = OPERATORS[name].build(60, 72, 2, **params)
    tokens.requires_grad_(True)
    out = module(tokens)
    assert out.shape == tokens.shape == (2, 15 * 18, params.get("dim", 96))
    out.square().mean().backward()
    assert torch.isfinite(tokens.grad).all() and tokens.grad.abs().sum() > 0
    grads = [p.grad for p in module.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name,params", [
    ("paca", {}), ("paca_mlp", {}), ("swin", {"shift": True}), ("pvt", {}), ("pvt_li", {}), ("vit", {}),
])
def test_fused_attn_false_is_the_same_function_computed_explicitly(name, params):
    """fused_attn=false switches every attention layer to the explicit path, and the output is the
    fused kernel's up to rounding (the same weights: both built from the same seed)."""
    outputs = {}
    for fused in (True, False):
        torch.manual_seed(0)
        module, tokens = OPERATORS[name].build(64, 64, 2, fused_attn=fused, **params)
        switches = [m.fused_attn for m in module.modules() if hasattr(m, "fused_attn")]
        assert switches and all(flag is fused for flag in switches)
        with torch.no_grad():
            outputs[fused] = module(tokens)
    torch.testing.assert_close(outputs[False], outputs[True], rtol=1e-4, atol=1e-5)


def test_explicit_paca_attention_keeps_no_maps_unless_asked():
    module, tokens = OPERATORS["paca"].build(64, 64, 1, fused_attn=False)
    module(tokens)
    assert module.attn.last_maps is None  # holding them would inflate the measured peak memory


def test_swin_shift_changes_the_output_and_not_the_parameters():
    plain, tokens = OPERATORS["swin"].build(56, 56, 1)
    shifted, _ = OPERATORS["swin"].build(56, 56, 1, shift=True)
    shifted.load_state_dict(plain.state_dict())
    with torch.no_grad():
        assert not torch.allclose(plain(tokens), shifted(tokens))
    assert shifted.block.shift_size == (3, 3) and plain.block.shift_size == (0, 0)


def test_swin_keeps_only_the_attention_path():
    module, _ = OPERATORS["swin"].build(56, 56, 1, device="meta")
    c = 96
    relative_bias = 13 * 13 * 2
    assert sum(p.numel() for p in module.parameters()) == 3 * c * c + 3 * c + c * c + c + relative_bias


def test_meta_device_and_dtype():
    module, tokens = OPERATORS["vit"].build(4096, 4096, 8, device="meta", dtype=torch.bfloat16)
    assert tokens.is_meta and tokens.shape == (8, 1024 * 1024, 96) and tokens.dtype == torch.bfloat16
    assert all(p.is_meta and p.dtype == torch.bfloat16 for p in module.parameters())
    assert not module.training


def test_stride_sets_the_grid():
    assert OPERATORS["vit"].tokens(224, 224, stride=16) == 196
    assert OPERATORS["paca"].tokens(256, 192) == 64 * 48
    assert OPERATORS["paca"].cost(224, 224, stride=8) == OPERATORS["paca"].cost(112, 112)


@pytest.mark.parametrize("name,params,height,message", [
    ("paca", {"foo": 1}, 224, "op:paca: unknown parameter 'foo'; allowed: clusters, dim, fused_attn, heads, stride"),
    ("vit", {"fused_attn": "sometimes"}, 224, "op:vit: fused_attn must be true or false, got 'sometimes'"),
    ("paca", {"clusters": "abc"}, 224, "op:paca: clusters must be a positive integer, got 'abc'"),
    ("paca", {"clusters": 0}, 224, "op:paca: clusters must be a positive integer, got 0"),
    ("swin", {"shift": "maybe"}, 224, "op:swin: shift must be true or false, got 'maybe'"),
    ("vit", {"heads": 5}, 224, "op:vit: dim 96 is not divisible by heads 5; pick heads dividing dim"),
    ("vit", {}, 226, "op:vit: resolution 226x226 is not a positive multiple of stride 4; "
                     "use sizes 4, 8, 12, ..."),
    ("pvt", {}, 16, "op:pvt: resolution 16x16 gives a 4x4 token grid, smaller than the 8x8 it needs; "
                    "use sizes >= 32 (multiples of 4)"),
])
def test_bad_parameters(name, params, height, message):
    with pytest.raises(ValueError) as error:
        OPERATORS[name].cost(height, height, **params)
    assert str(error.value) == message


def test_query_string_values_are_coerced():
    spec = OPERATORS["swin"]
    assert spec.check_params({"shift": "true", "window": "8"}) == {"shift": True, "window": 8}
    assert spec.resolve({"shift": "0"})["shift"] is False


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_cuda_bfloat16_forward(name):
    module, tokens = OPERATORS[name].build(128, 128, 2, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        out = module(tokens)
    assert out.is_cuda and out.dtype == torch.bfloat16 and out.shape == tokens.shape
    assert torch.isfinite(out.float()).all()
