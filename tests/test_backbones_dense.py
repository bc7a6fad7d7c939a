"""Backbones in feature mode, cluster overrides, and the PaCa segmentor alias seg:<zoo variant>."""
import pytest
import torch

from pacabench.dense import RELEASED_DENSE_FIGURES
from pacabench.measure.cell import Cell, measure_cell
from pacabench.measure.flops import count_flops, count_params
from pacabench.targets import build_target, parse_target

TINY = "pacavit_tiny_p2cconv_100_0"
TINY_PARAMS = 12_200_680          # DESIGN.md section 3
TINY_HEAD = 384 * 1000 + 1000     # the classifier feature mode drops
TINY_WIDTHS = (96, 192, 320, 384)


def test_feature_mode_returns_four_stage_maps():
    built = build_target("model", TINY, {"features_only": True}, 256, 320, 2, device="meta")
    maps = built.module(*built.inputs)
    assert [tuple(m.shape) for m in maps] == [(2, c, 256 // s, 320 // s)
                                              for c, s in zip(TINY_WIDTHS, (4, 8, 16, 32))]
    assert built.tokens == 64 * 80
    assert count_params(built.module) == TINY_PARAMS - TINY_HEAD


def test_feature_mode_of_peers_and_out_indices():
    swin = build_target("model", "swin_tiny_patch4_window7_224", {"features_only": True, "out_indices": [1, 3]},
                        512, 512, 1, device="meta")
    # timm's Swin features are channels-last (B x h x w x C)
    assert [tuple(m.shape) for m in swin.module(*swin.inputs)] == [(1, 64, 64, 192), (1, 16, 16, 768)]
    pvt = build_target("model", "pvt_v2_b1", {"features_only": "true"}, 800, 1280, 1, device="meta")
    assert [tuple(m.shape) for m in pvt.module(*pvt.inputs)] == [
        (1, 64, 200, 320), (1, 128, 100, 160), (1, 320, 50, 80), (1, 512, 25, 40)]


@pytest.mark.parametrize("clusters", [[200, 200, 200, 0], [49, 64, 81, 100]])
def test_clusters_override_changes_params_by_the_clustering_convs(clusters):
    """Stage-wise conv clustering: one Conv2d(C_i, M_i, 1, bias=False) per stage with M_i > 0, so
    M 100 -> M' changes the count by C_i (M' - 100); a stage going from 0 to M' > 0 also gains its
    clustering module (dw7 + 1x1 convs) and one cluster_norm per block."""
    _, _, params = parse_target(f"{TINY}?features_only=true&clusters={','.join(map(str, clusters))}")
    built = build_target("model", TINY, params, 224, 224, 1, device="meta")
    c4, depth4 = TINY_WIDTHS[3], 2
    delta = sum(c * (m - 100) for c, m in zip(TINY_WIDTHS[:3], clusters[:3]))
    if clusters[3]:
        delta += (c4 * 49 + c4) + (c4 * c4 + c4) + c4 * clusters[3] + depth4 * 2 * c4
    assert count_params(built.module) == TINY_PARAMS - TINY_HEAD + delta


def test_segmentor_matches_released_tiny_complexity():
    built = build_target("model", "seg:" + TINY, {}, 512, 512, 1, device="meta")
    assert built.tokens == 128 * 128
    params = count_params(built.module)
    # backbone with clusters [200, 200, 200, 0] + PaCaSegHead(150 classes), both as in test_models_seg_head
    assert params == 11_876_480 + 1_450_284
    released = RELEASED_DENSE_FIGURES["seg:paca:" + TINY]
    assert params / 1e6 == pytest.approx(released["params_m"], rel=0.005)
    assert count_flops(built.module, built.inputs).gmacs == pytest.approx(released["gmacs"], rel=0.01)


def test_segmentor_logits_cover_the_input():
    torch.manual_seed(0)
    built = build_target("model", "seg:" + TINY, {"num_classes": 5, "clusters": [8, 8, 8, 0]}, 64, 96, 1)
    with torch.no_grad():
        logits = built.module(*built.inputs)
    assert logits.shape == (1, 5, 64, 96) and torch.isfinite(logits).all()


def test_feature_mode_cell_is_measured_in_train_mode():
    """A module returning a list of maps is counted and timed (train: loss over every map)."""
    cell = Cell(kind="model", name=TINY, params={"features_only": True, "clusters": [8, 8, 8, 0]},
                height=64, width=64, mode="train", metrics=("flops", "params", "latency"),
                warmup=0, min_repeats=1, min_time_s=0.0)
    row = measure_cell(cell)
    assert row["status"] == "ok", row["message"]
    assert row["params"] == TINY_PARAMS - TINY_HEAD + sum(c * (8 - 100) for c in TINY_WIDTHS[:3])
    assert row["gmacs"] > 0 and row["flops_agree"] and row["latency_samples"] >= 1
