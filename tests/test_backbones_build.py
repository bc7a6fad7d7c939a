"""Backbones at 224 reproduce their released size and cost; other sizes follow each family's rule."""
import pytest
import torch

from pacabench.backbones import PEER_BACKBONES, RELEASED_PEER_FIGURES, build_backbone, check_size, family_of
from pacabench.measure.flops import count_flops
from pacabench.targets import build_target

RELEASED = [name for name, figures in RELEASED_PEER_FIGURES.items() if figures["gmacs"] is not None]


def test_released_list_covers_design_section_4():
    assert RELEASED == [
        "swin_tiny_patch4_window7_224", "swin_small_patch4_window7_224", "swin_base_patch4_window7_224",
        "pvt_v2_b1", "pvt_v2_b2", "pvt_v2_b2_li", "pvt_v2_b3", "deit_small_patch16_224", "deit_base_patch16_224"]


@pytest.mark.parametrize("name", RELEASED)
def test_params_and_gmacs_at_224_match_released(name):
    built = build_target("model", name, {}, 224, 224, 1, device="meta")
    params_m = sum(p.numel() for p in built.module.parameters()) / 1e6
    gmacs = count_flops(built.module, built.inputs).gmacs
    released = RELEASED_PEER_FIGURES[name]
    assert params_m == pytest.approx(released["params_m"], rel=0.03)
    assert gmacs == pytest.approx(released["gmacs"], rel=0.03)


def test_every_peer_builds_at_a_non_default_size():
    for name in PEER_BACKBONES:
        assert build_target("model", name, {}, 320, 256, 1, device="meta").tokens in (80 * 64, 20 * 16)
    for name in ("swin_tiny_patch4_window7_224", "pvt_v2_b0", "vit_small_patch16_224"):
        built = build_target("model", name, {}, 320, 256, 2, device="meta")
        assert built.module(*built.inputs).shape == (2, 1000)


def test_swin_keeps_window_7_and_pads():
    """At 256 px the stage grids are 64, 32, 16, 8: window 7 everywhere, grids padded by timm."""
    model = build_backbone("swin_tiny_patch4_window7_224", 256, 256, device="meta")
    windows = {block.window_size for stage in model.layers for block in stage.blocks}
    assert windows == {(7, 7)}
    assert model.layers[0].blocks[1].shift_size == (3, 3)


def test_vit_position_embeddings_follow_the_size():
    model = build_backbone("vit_small_patch16_224", 384, 512, device="meta")
    assert model.pos_embed.shape == (1, 1 + 24 * 32, 384)


@pytest.mark.parametrize("name,switches", [
    ("pacavit_tiny_p2cconv_100_0", 10), ("swin_tiny_patch4_window7_224", 12), ("pvt_v2_b0", 8),
    ("deit_small_patch16_224", 12), ("seg:pacavit_tiny_p2cconv_100_0", 10),
])
def test_fused_attn_false_switches_every_attention_and_keeps_the_function(name, switches):
    """One switch per attention layer (PaCa-Tiny 2+2+4+2 blocks, Swin-T 2+2+6+2, PVTv2-b0 2+2+2+2,
    DeiT-S 12); the explicit path computes what the fused kernels do."""
    outputs = {}
    images = torch.randn(1, 3, 64, 64)
    for fused in (True, False):
        torch.manual_seed(0)
        built = build_target("model", name, {"fused_attn": fused}, 64, 64, 1)
        flags = [m.fused_attn for m in built.module.modules() if hasattr(m, "fused_attn")]
        assert flags == [fused] * switches
        with torch.no_grad():
            outputs[fused] = built.module(images)
    torch.testing.assert_close(outputs[False], outputs[True], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,height,width,message", [
    ("pacavit_small_p2cconv_100_0", 240, 224, "pacavit_small_p2cconv_100_0 (PaCa-ViT) takes sizes that are "
     "positive multiples of 32 (e.g. 224, 256, 512); got 240x224"),
    ("pvt_v2_b2_li", 224, 16, "pvt_v2_b2_li (PVTv2) takes sizes that are positive multiples of 32 "
     "(e.g. 224, 256, 512); got 224x16"),
    ("deit_base_patch16_224", 200, 224, "deit_base_patch16_224 (ViT/DeiT) takes sizes that are positive "
     "multiples of 16 (e.g. 224, 256, 512); got 200x224"),
])
def test_sizes_a_family_cannot_take(name, height, width, message):
    with pytest.raises(ValueError) as error:
        check_size(name, height, width)
    assert str(error.value) == message


def test_families():
    assert family_of("pacavit_convmixer_tiny_100").multiple == 32
    assert family_of("vit_base_patch16_224").token_stride == 16
    assert family_of("swin_base_patch4_window12_384") is None  # window 12: no rule, timm defaults
    assert family_of("resnet18") is None
    check_size("resnet18", 100, 130)  # no rule: no error


def test_other_timm_models_best_effort():
    """img_size passed where accepted; tokens from the patch size, else the first feature reduction."""
    eva = build_target("model", "eva02_tiny_patch14_224", {}, 112, 140, 1, device="meta")
    assert eva.tokens == 8 * 10 and eva.module.patch_embed.img_size == (112, 140)
    assert build_target("model", "convnext_atto", {}, 96, 128, 1, device="meta").tokens == 24 * 32
    assert build_target("model", "resnet18", {}, 96, 128, 1, device="meta").tokens == 48 * 64
