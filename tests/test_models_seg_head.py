"""PaCa segmentation head on a PaCa-Tiny feature backbone: released complexity and output shapes."""
import pytest
import timm
import torch

import pacabench  # noqa: F401
from pacabench.models import PaCaSegHead


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def tiny_segmenter():
    torch.manual_seed(0)
    backbone = timm.create_model("pacavit_tiny_p2cconv_100_0", features_only=True, clusters=[200, 200, 200, 0])
    head = PaCaSegHead(backbone.feature_info.channels(), num_classes=150)
    return backbone.eval(), head.eval()


def test_tiny_with_head_has_the_released_13_3m_parameters(tiny_segmenter):
    backbone, head = tiny_segmenter
    assert _count(backbone) == 11_876_480
    # head by hand (ch = 256, K = 150, X = 4 * 256 channels): per-level 1x1 conv + BN, q and clustering
    # 1x1 conv + BN, cluster classifier, k and v Linear + BN, proj 1x1 conv + BN, conv_seg
    bn = 2 * 256
    expected_head = ((96 + 192 + 320 + 384) * 256 + 4 * bn + 2 * (1024 * 256 + bn) + (256 * 150 + 150)
                     + 2 * (1024 * 256 + 256 + bn) + (256 * 256 + bn) + (256 * 150 + 150))
    assert _count(head) == expected_head == 1_450_284
    total = _count(backbone) + _count(head)
    assert abs(total / 13.3e6 - 1) < 0.005


def test_head_outputs_stride_4_logits_and_cluster_logits(tiny_segmenter):
    backbone, head = tiny_segmenter
    with torch.no_grad():
        features = backbone(torch.randn(1, 3, 128, 160))
        logits, cluster_logits = head.forward_with_cluster_logits(features)
        assert torch.equal(head(features), logits)
    assert logits.shape == cluster_logits.shape == (1, 150, 32, 40)
    assert torch.isfinite(logits).all()


def test_head_attention_is_unscaled_pixel_to_class_attention():
    head = PaCaSegHead((8, 8, 8, 8), num_classes=3, channels=4).eval()
    features = [torch.randn(1, 8, 8 // s, 8 // s) for s in (1, 2, 4, 8)]
    with torch.no_grad():
        got = head(features)
        # by hand: q . k^T without 1/sqrt(d), softmax over the K = 3 class clusters
        x = torch.cat([torch.nn.functional.interpolate(c(f), size=(8, 8), mode="bilinear", align_corners=False)
                       for c, f in zip(head.convs, features)], dim=1)
        tokens = x.flatten(2).transpose(1, 2)
        clusters = head.clustering(x).flatten(2).softmax(-1) @ tokens
        q = head.q(x).flatten(2).transpose(1, 2)
        out = (q @ head.k(clusters).transpose(1, 2)).softmax(-1) @ head.v(clusters)
        expected = head.conv_seg(head.proj(out.transpose(1, 2).reshape(1, 4, 8, 8)))
    torch.testing.assert_close(got, expected)
