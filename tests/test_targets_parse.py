"""Target specs parse to (kind, name, params), and build modules with inputs and token counts."""
import pytest
import torch

from pacabench.targets import Built, TargetError, build_target, parse_target


@pytest.mark.parametrize("spec,expected", [
    ("pacavit_tiny_p2cconv_100_0", ("model", "pacavit_tiny_p2cconv_100_0", {})),
    ("swin_tiny_patch4_window7_224", ("model", "swin_tiny_patch4_window7_224", {})),
    ("resnet18", ("model", "resnet18", {})),
    ("op:vit", ("operator", "vit", {})),
    ("op:paca?clusters=49&dim=96", ("operator", "paca", {"clusters": 49, "dim": 96})),
    ("op:swin?shift=true", ("operator", "swin", {"shift": True})),
    ("op:pvt?sr_ratio=4&dim=64&heads=1", ("operator", "pvt", {"sr_ratio": 4, "dim": 64, "heads": 1})),
])
def test_parse(spec, expected):
    assert parse_target(spec) == expected


@pytest.mark.parametrize("spec,message", [
    ("swin_tiny_patch4_window7", "unknown model 'swin_tiny_patch4_window7'; did you mean: "
     "swin_tiny_patch4_window7_224, swin_base_patch4_window7_224, swin_small_patch4_window7_224?"),
    ("pacavit_tiny_p2cconv_100", "unknown model 'pacavit_tiny_p2cconv_100'; did you mean: "
     "pacavit_tiny_p2cconv_100_0, pacavit_small_p2cconv_100, pacavit_base_p2cconv_100_0?"),
    ("op:pcaa", "unknown operator 'op:pcaa'; did you mean: op:paca, op:paca_mlp, op:paca_linear?"),
    ("qqqqzzzz", "unknown model 'qqqqzzzz'; run `pacabench list` to see the models and operators"),
    ("op:paca?size=3", "op:paca: unknown parameter 'size'; allowed: clusters, dim, heads, stride"),
    ("op:pvt?sr_ratio=x", "op:pvt: sr_ratio must be a positive integer, got 'x'"),
    ("op:vit?dim", "op:vit: parameter 'dim' is not key=value; write op:vit?key=value&key=value"),
    ("resnet18?depth=2", "model 'resnet18' takes no parameters; only operators do (op:NAME?key=value)"),
])
def test_parse_errors_are_one_line(spec, message):
    with pytest.raises(TargetError) as error:
        parse_target(spec)
    assert str(error.value) == message


def test_build_operator():
    built = build_target("operator", "paca", {"clusters": "16"}, 64, 96, 2)
    assert isinstance(built, Built) and built.tokens == 16 * 24
    (tokens,) = built.inputs
    assert tokens.shape == (2, 384, 96) and not built.module.training
    assert built.module(tokens).shape == tokens.shape


def test_build_model_tokens_and_dtype():
    swin = build_target("model", "swin_tiny_patch4_window7_224", {}, 256, 320, 2, device="meta",
                        dtype="bfloat16")
    assert swin.tokens == 64 * 80
    assert swin.inputs[0].shape == (2, 3, 256, 320) and swin.inputs[0].dtype == torch.bfloat16
    assert all(p.dtype == torch.bfloat16 and p.is_meta for p in swin.module.parameters())
    assert build_target("model", "deit_small_patch16_224", {}, 384, 384, 1, device="meta").tokens == 576
    assert build_target("model", "pacavit_tiny_p2cconv_100_0", {}, 224, 224, 1, device="meta").tokens == 3136


@pytest.mark.parametrize("args,message", [
    (("model", "swin_tiny_patch4_window7_224", {}, 230, 224, 1),
     "swin_tiny_patch4_window7_224 (Swin) takes sizes that are positive multiples of 32 (e.g. 224, 256, 512); "
     "got 230x224"),
    (("model", "resnet18", {"depth": 2}, 224, 224, 1), "model 'resnet18' takes no parameters, got: depth"),
    (("operator", "vit", {"dim": 64, "heads": 3}, 224, 224, 1),
     "op:vit: dim 64 is not divisible by heads 3; pick heads dividing dim"),
    (("operator", "pvt", {}, 16, 16, 1), "op:pvt: resolution 16x16 gives a 4x4 token grid, smaller than the "
     "8x8 it needs; use sizes >= 32 (multiples of 4)"),
    (("layer", "vit", {}, 224, 224, 1), "unknown kind 'layer'; use one of: model, operator"),
    (("operator", "vit", {}, 224, 224, 0), "batch must be >= 1, got 0"),
])
def test_build_errors(args, message):
    with pytest.raises(TargetError) as error:
        build_target(*args, device="meta")
    assert str(error.value) == message


def test_bad_dtype():
    with pytest.raises(TargetError, match="dtype 'float13' is not a torch dtype"):
        build_target("operator", "vit", {}, 64, 64, 1, dtype="float13")
