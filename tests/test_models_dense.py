"""The dense models: parameters of every neck and head against an independent count of the same
configuration, output shapes on small inputs, and the fixed RoI counts of Mask R-CNN."""
import pytest
import timm
import torch
from torchvision.models.detection import maskrcnn_resnet50_fpn

import pacabench  # noqa: F401  (registers the zoo)
from pacabench.measure.flops import count_flops
from pacabench.models.mask_rcnn import MaskRCNN, fixed_rois
from pacabench.models.paca_seg_head import paca_segmentor
from pacabench.models.pyramid import PyramidBackbone
from pacabench.models.semantic_fpn import semantic_fpn
from pacabench.models.upernet import upernet

RESNET50 = (256, 512, 1024, 2048)
TINY = (96, 192, 320, 384)


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _conv(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def _conv_bn(c_in, c_out, k):
    """mmcv ConvModule with BN: conv without bias, BN weight and bias."""
    return _conv(c_in, c_out, k, bias=False) + 2 * c_out


def _linear(c_in, c_out):
    return c_in * c_out + c_out


class _Pyramid(torch.nn.Module):
    """A stand-in body: four maps of the given widths at strides 4..32 (no parameters)."""

    def __init__(self, channels):
        super().__init__()
        self.feature_info = timm.models.FeatureInfo(
            [dict(num_chs=c, reduction=4 * 2 ** i, module=str(i)) for i, c in enumerate(channels)], (0, 1, 2, 3))

    def forward(self, x):
        return [x.new_zeros(x.shape[0], c, x.shape[2] // s, x.shape[3] // s)
                for c, s in zip(self.feature_info.channels(), self.feature_info.reduction())]


def _on_meta(build, channels, **kwargs):
    with torch.device("meta"):
        return build(PyramidBackbone(_Pyramid(channels)), **kwargs)


def test_mask_rcnn_parts_have_the_standard_1x_shapes():
    """FPN 256 (1x1 laterals, 3x3 outputs, all with bias), RPN (3x3 conv, 3 anchors), box head of two
    1024-wide FCs with mmdet's 81 scores and 320 deltas, mask head 4 x 3x3 conv, 2x deconv, 80 masks."""
    model = _on_meta(MaskRCNN, RESNET50)
    assert [name for name, _ in model.named_children()] == ["backbone", "neck", "rpn", "roi_heads"]
    assert _count(model.neck) == sum(_conv(c, 256, 1) + _conv(256, 256, 3) for c in RESNET50)
    assert _count(model.rpn) == _conv(256, 256, 3) + _conv(256, 3, 1) + _conv(256, 12, 1)
    heads = model.roi_heads
    assert _count(heads.box_head) == _linear(256 * 7 * 7, 1024) + _linear(1024, 1024)
    assert _count(heads.box_predictor) == _linear(1024, 81) + _linear(1024, 80 * 4)
    assert _count(heads.mask_head) == 4 * _conv(256, 256, 3)
    assert _count(heads.mask_predictor) == 256 * 256 * 2 * 2 + 256 + _conv(256, 80, 1)


def test_mask_rcnn_parts_equal_torchvisions_own_maskrcnn_resnet50_fpn():
    """torchvision builds the same FPN, RPN head, box and mask heads for its ResNet-50 Mask R-CNN."""
    with torch.device("meta"):
        reference = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=80)
    model = _on_meta(MaskRCNN, RESNET50)
    pairs = [(model.neck, reference.backbone.fpn), (model.rpn, reference.rpn.head),
             (model.roi_heads.box_head, reference.roi_heads.box_head),
             (model.roi_heads.mask_head, reference.roi_heads.mask_head),
             (model.roi_heads.mask_predictor, reference.roi_heads.mask_predictor)]
    for ours, theirs in pairs:
        assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]


def test_upernet_head_and_auxiliary_head_counts():
    """UPerHead: PPM (4 x 1x1 ConvModule) + 3x3 bottleneck, 3 lateral 1x1 + 3 fpn 3x3 ConvModules, 3x3
    fusion, classifier; FCN auxiliary: 3x3 ConvModule to 256 on the stride-16 map, classifier."""
    model = _on_meta(upernet, TINY)
    assert [name for name, _ in model.named_children()] == ["backbone", "decode_head", "auxiliary_head"]
    expected = (4 * _conv_bn(384, 512, 1) + _conv_bn(384 + 4 * 512, 512, 3)
                + sum(_conv_bn(c, 512, 1) + _conv_bn(512, 512, 3) for c in TINY[:3])
                + _conv_bn(4 * 512, 512, 3) + _conv(512, 150, 1))
    assert _count(model.decode_head) == expected == 28_908_694
    assert _count(model.auxiliary_head) == _conv_bn(320, 256, 3) + _conv(256, 150, 1) == 776_342


def test_semantic_fpn_counts():
    """FPN neck 256 (four outputs, no extra level); FPN head: 1, 1, 2, 3 ConvModules 3x3 to 128."""
    model = _on_meta(semantic_fpn, (64, 128, 320, 512))
    assert [name for name, _ in model.named_children()] == ["backbone", "neck", "decode_head"]
    assert _count(model.neck) == sum(_conv(c, 256, 1) + _conv(256, 256, 3) for c in (64, 128, 320, 512))
    towers = sum(_conv_bn(256, 128, 3) + (n - 1) * _conv_bn(128, 128, 3) for n in (1, 1, 2, 3))
    assert _count(model.decode_head) == towers + _conv(128, 150, 1)


def test_paca_segmentor_on_any_pyramid():
    model = _on_meta(paca_segmentor, (64, 128, 320, 512), num_classes=19)
    assert [name for name, _ in model.named_children()] == ["backbone", "decode_head"]
    assert model.decode_head.conv_seg.out_channels == 19


def test_fixed_rois_are_spread_over_the_levels_and_made_from_the_size_alone():
    rois = fixed_rois(2, 800, 1280, 1000)
    assert [len(level) for level in rois] == [500] * 4  # 250 per level and image
    for level, boxes in enumerate(rois):
        assert boxes[:, 0].tolist() == [0.0] * 250 + [1.0] * 250
        sides = torch.minimum(boxes[:, 3] - boxes[:, 1], boxes[:, 4] - boxes[:, 2])
        assert sides.max() == 80 * 2 ** level  # clipped only at the image border
        assert (boxes[:, 1:] >= 0).all() and (boxes[:, 3] <= 1280).all() and (boxes[:, 4] <= 800).all()
    assert [len(level) for level in fixed_rois(1, 64, 64, 10)] == [3, 3, 2, 2]
    assert all(torch.equal(a, b) for a, b in zip(fixed_rois(1, 800, 1280, 100), fixed_rois(1, 800, 1280, 100)))


def test_mask_rcnn_roi_heads_see_exactly_1000_and_100_rois_per_image():
    model = _on_meta(MaskRCNN, TINY).eval()
    seen = {}
    for name in ("box_head", "mask_head"):
        getattr(model.roi_heads, name).register_forward_pre_hook(
            lambda module, args, name=name: seen.update({name: tuple(args[0].shape)}))
    model(torch.empty(2, 3, 256, 320, device="meta"))
    assert seen == {"box_head": (2000, 256, 7, 7), "mask_head": (200, 256, 14, 14)}


def test_mask_rcnn_counts_do_not_depend_on_the_weights():
    """Two random initialisations on CPU and the meta device give the same counts (the RoI heads see
    their fixed RoIs whatever the RPN scores); RoIAlign's sampling is listed as uncounted."""
    counts = []
    for device, seed in (("cpu", 0), ("cpu", 1), ("meta", 0)):
        torch.manual_seed(seed)
        with torch.device(device):
            body = timm.create_model("resnet18", features_only=True, out_indices=(1, 2, 3, 4))
            model = MaskRCNN(PyramidBackbone(body), channels=32, num_proposals=40, num_detections=8).eval()
        counts.append(count_flops(model, (torch.randn(1, 3, 64, 64, device=device),)))
    assert len({(c.macs, c.fvcore_macs) for c in counts}) == 1 and counts[0].agree
    assert any(op.endswith("::roi_align") for op in counts[0].uncounted_ops)


def test_dense_models_output_shapes_on_a_small_input():
    """Real forward passes on a PaCa-Tiny pyramid (few clusters, few RoIs to stay fast)."""
    torch.manual_seed(0)
    body = timm.create_model("pacavit_tiny_p2cconv_100_0", features_only=True, clusters=(8, 8, 8, 0))
    images = torch.randn(2, 3, 64, 96)
    detector = MaskRCNN(PyramidBackbone(body), num_proposals=12, num_detections=4).eval()
    with torch.no_grad():
        objectness, deltas, scores, boxes, masks = detector(images)
    sizes = [(16 // 2 ** i, 24 // 2 ** i) for i in range(4)] + [(1, 2)]  # P2..P5, P6 max-pooled
    assert [tuple(o.shape) for o in objectness] == [(2, 3, *s) for s in sizes]
    assert [tuple(d.shape) for d in deltas] == [(2, 12, *s) for s in sizes]
    assert scores.shape == (24, 81) and boxes.shape == (24, 320) and masks.shape == (8, 80, 28, 28)
    for build in (upernet, semantic_fpn, paca_segmentor):
        segmenter = build(PyramidBackbone(body), num_classes=5).eval()
        with torch.no_grad():
            logits = segmenter(images)
        assert logits.shape == (2, 5, 64, 96) and torch.isfinite(logits).all()


def test_upernet_runs_its_auxiliary_head_only_in_training():
    torch.manual_seed(0)
    body = timm.create_model("pacavit_tiny_p2cconv_100_0", features_only=True, clusters=(8, 8, 8, 0))
    model = upernet(PyramidBackbone(body), num_classes=5)
    logits, auxiliary = model.train()(torch.randn(2, 3, 64, 64))
    assert logits.shape == auxiliary.shape == (2, 5, 64, 64)
    assert isinstance(model.eval()(torch.randn(1, 3, 64, 64)), torch.Tensor)


def test_channels_last_maps_become_nchw_with_output_norms():
    """timm's Swin gives B x h x w x C; the released Swin dense backbones normalise every output."""
    body = timm.create_model("swin_tiny_patch4_window7_224", features_only=True, img_size=(64, 64))
    backbone = PyramidBackbone(body, out_norms=True).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(1, 96, 16, 16), (1, 192, 8, 8), (1, 384, 4, 4), (1, 768, 2, 2)]
    assert _count(backbone) - _count(body) == 2 * sum((96, 192, 384, 768))


def test_a_body_without_the_four_strides_is_refused():
    body = timm.create_model("resnet18", features_only=True, pretrained=False)
    with pytest.raises(ValueError, match=r"needs maps at strides \(4, 8, 16, 32\), got \(2, 4, 8, 16, 32\)"):
        PyramidBackbone(body)
