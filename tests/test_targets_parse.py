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
    ("pacavit_tiny_p2cconv_100_0?features_only=true&clusters=200,200,200,0",
     ("model", "pacavit_tiny_p2cconv_100_0", {"features_only": True, "clusters": [200, 200, 200, 0]})),
    # the form the suite runner writes for `params: {features_only: true, clusters: [200, 200, 200, 0]}`
    ("pacavit_tiny_p2cconv_100_0?features_only=true&clusters=[200, 200, 200, 0]",
     ("model", "pacavit_tiny_p2cconv_100_0", {"features_only": True, "clusters": [200, 200, 200, 0]})),
    ("swin_tiny_patch4_window7_224?features_only=True&out_indices=1,3",
     ("model", "swin_tiny_patch4_window7_224", {"features_only": True, "out_indices": [1, 3]})),
    ("seg:pacavit_tiny_p2cconv_100_0", ("model", "seg:pacavit_tiny_p2cconv_100_0", {})),
    ("seg:pacavit_small_p2cmlp_100_0?num_classes=19&clusters=100,100,100,0",
     ("model", "seg:pacavit_small_p2cmlp_100_0", {"num_classes": 19, "clusters": [100, 100, 100, 0]})),
    ("det:maskrcnn:pacavit_tiny_p2cconv_100_0", ("model", "det:maskrcnn:pacavit_tiny_p2cconv_100_0", {})),
    ("seg:upernet:pvt_v2_b1?num_classes=19", ("model", "seg:upernet:pvt_v2_b1", {"num_classes": 19})),
    ("seg:fpn:pacavit_tiny_p2cconv_100_0?clusters=49,49,49,0",
     ("model", "seg:fpn:pacavit_tiny_p2cconv_100_0", {"clusters": [49, 49, 49, 0]})),
    ("seg:paca:resnet50?fused_attn=true", ("model", "seg:paca:resnet50", {"fused_attn": True})),
])
def test_parse(spec, expected):
    assert parse_target(spec) == expected


@pytest.mark.parametrize("spec,message", [
    ("swin_tiny_patch4_window7", "unknown model 'swin_tiny_patch4_window7'; did you mean: "
     "swin_tiny_patch4_window7_224, swin_base_patch4_window7_224, swin_large_patch4_window7_224?"),
    ("pacavit_tiny_p2cconv_100", "unknown model 'pacavit_tiny_p2cconv_100'; did you mean: "
     "pacavit_tiny_p2cconv_100_0, pacavit_small_p2cconv_100, pacavit_base_p2cconv_100_0?"),
    ("op:pcaa", "unknown operator 'op:pcaa'; did you mean: op:paca, op:paca_mlp, op:paca_linear?"),
    ("qqqqzzzz", "unknown model 'qqqqzzzz'; run `pacabench list` to see the models and operators"),
    ("op:paca?size=3", "op:paca: unknown parameter 'size'; allowed: clusters, dim, fused_attn, heads, stride"),
    ("op:pvt?sr_ratio=x", "op:pvt: sr_ratio must be a positive integer, got 'x'"),
    ("op:vit?dim", "op:vit: parameter 'dim' is not key=value; write op:vit?key=value&key=value"),
    ("resnet18?depth=2", "resnet18: unknown parameter 'depth'; allowed: features_only, out_indices, fused_attn"),
    ("swin_tiny_patch4_window7_224?clusters=49,49,49,0", "swin_tiny_patch4_window7_224: unknown "
     "parameter 'clusters'; allowed: features_only, out_indices, fused_attn"),
    ("pacavit_tiny_p2cconv_100_0?num_classes=10", "pacavit_tiny_p2cconv_100_0: unknown parameter "
     "'num_classes'; allowed: clusters, features_only, out_indices, fused_attn"),
    ("seg:pacavit_tiny_p2cconv_100_0?features_only=true", "seg:pacavit_tiny_p2cconv_100_0: unknown "
     "parameter 'features_only'; allowed: clusters, num_classes, fused_attn"),
    ("pacavit_tiny_p2cconv_100_0?clusters=200,200,0",
     "pacavit_tiny_p2cconv_100_0: clusters must be 4 integers >= 0 such as 200,200,200,0, got '200,200,0'"),
    ("pvt_v2_b1?features_only=yes", "pvt_v2_b1: features_only must be true or false, got 'yes'"),
    ("pvt_v2_b1?out_indices=2", "pvt_v2_b1: out_indices needs features_only=true"),
    ("seg:pacavit_tiny_p2cconv_100_0?num_classes=0",
     "seg:pacavit_tiny_p2cconv_100_0: num_classes must be an integer >= 1 such as 150, got '0'"),
    ("resnet18?features_only", "resnet18: parameter 'features_only' is not key=value; "
     "write resnet18?key=value&key=value"),
    ("seg:resnet18", "unknown dense model 'seg:resnet18'; seg:<zoo variant> is the PaCa head on a PaCa-ViT "
     "zoo model, on other backbones write seg:paca:resnet18, seg:upernet:resnet18 or seg:fpn:resnet18; "
     "did you mean: seresnet18, skresnet18, resnet18?"),
    ("det:maskrcnn:deit_small_patch16_224", "det:maskrcnn:deit_small_patch16_224: deit_small_patch16_224 has no "
     "pyramid feature mode: its feature maps have strides 16, 16, 16, and the dense heads need one map at "
     "each of 4, 8, 16 and 32 (as PaCa-ViT, Swin, PVTv2, ResNet or ConvNeXt give)"),
    ("det:yolo:resnet18", "unknown dense model 'det:yolo' in 'det:yolo:resnet18'; use det:maskrcnn:<backbone>, "
     "seg:upernet:<backbone>, seg:fpn:<backbone> or seg:paca:<backbone>"),
    ("det:resnet50", "unknown dense model 'det:resnet50'; write det:maskrcnn:resnet50"),
    ("seg:upernet:", "'seg:upernet:' names no backbone; write seg:upernet:<backbone>"),
    ("seg:upernet:swin_tny", "seg:upernet:swin_tny: unknown backbone 'swin_tny'; did you mean: "
     "swin_tiny_patch4_window7_224, swin_s3_tiny_224, swinv2_tiny_window8_256?"),
    ("seg:upernet:pvt_v2_b1?clusters=200,200,200,0", "seg:upernet:pvt_v2_b1: unknown parameter 'clusters'; "
     "allowed: num_classes, fused_attn"),
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
    (("model", "resnet18", {"depth": 2}, 224, 224, 1),
     "resnet18: unknown parameter 'depth'; allowed: features_only, out_indices, fused_attn"),
    (("model", "resnet18", {"fused_attn": False}, 224, 224, 1),
     "resnet18: fused_attn=false needs attention layers with timm's fused_attn switch, and this model has "
     "none; drop the parameter"),
    (("model", "seg:pacavit_tiny_p2cconv_100_0", {}, 500, 512, 1), "seg:pacavit_tiny_p2cconv_100_0 "
     "(dense model) takes sizes that are positive multiples of 32 (e.g. 224, 256, 512); got 500x512"),
    (("model", "seg:pacavit_convmixer_tiny_100", {}, 512, 512, 1),
     "PaCaTeacher predicts clusters for every stage; got num_clusters=[200, 200, 200, 0]"),
    (("operator", "vit", {"dim": 64, "heads": 3}, 224, 224, 1),
     "op:vit: dim 64 is not divisible by heads 3; pick heads dividing dim"),
    (("operator", "pvt", {}, 16, 16, 1), "op:pvt: resolution 16x16 gives a 4x4 token grid, smaller than the "
     "8x8 it needs; use sizes >= 32 (multiples of 4)"),
    (("layer", "vit", {}, 224, 224, 1), "unknown kind 'layer'; use one of: model, operator, python"),
    (("operator", "vit", {}, 224, 224, 0), "batch must be >= 1, got 0"),
])
def test_build_errors(args, message):
    with pytest.raises(TargetError) as error:
        build_target(*args, device="meta")
    assert str(error.value) == message


def test_bad_dtype():
    with pytest.raises(TargetError, match="dtype 'float13' is not a torch dtype"):
        build_target("operator", "vit", {}, 64, 64, 1, dtype="float13")


@pytest.mark.parametrize("spec,suggestions", [
    # a prefix match that is also the closest match, and names both in the zoo and in timm's list:
    # each suggested once, prefix matches first
    ("pacavit_tiny", "pacavit_tiny_p2cconv_100_0, davit_tiny, gcvit_tiny"),
    # a typo in the head of a long zoo name still finds it (whole-name similarity alone would not)
    ("pacavit_tny", "pacavit_tiny_p2cconv_100_0, pacavit_convmixer_tiny_100, pacavit_convmixer_base_100"),
    ("pacavit_small_p2cconv_100_", "pacavit_small_p2cconv_100_0, pacavit_small_p2cconv_100_49, "
     "pacavit_small_p2cconv_100_blockwise"),
    ("seg:pacavit_base", "seg:pacavit_base_p2cconv_100_0, seg:pacavit_small_p2cconv_2_0, "
     "seg:pacavit_small_p2cconv_100"),
])
def test_suggestions_start_with_prefix_matches_and_never_repeat(spec, suggestions):
    with pytest.raises(TargetError) as error:
        parse_target(spec)
    listed = str(error.value).split("did you mean: ")[1].rstrip("?")
    assert listed == suggestions
    assert len(set(listed.split(", "))) == 3
