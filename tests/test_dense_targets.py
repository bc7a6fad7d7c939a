"""Dense targets (det:maskrcnn:, seg:upernet:, seg:fpn:, seg:paca:): the CLI's error for a backbone
without a pyramid, the released figures they reproduce, their parts, and cells that measure them.
Their names and one-line errors are tested with the other targets' (test_targets_parse.py)."""
import pytest
from typer.testing import CliRunner

from pacabench.cli import app
from pacabench.dense import RELEASED_DENSE_FIGURES
from pacabench.measure.cell import Cell, measure_cell
from pacabench.measure.flops import count_flops, count_params
from pacabench.targets import build_target

TINY = "pacavit_tiny_p2cconv_100_0"
SWIN = "swin_tiny_patch4_window7_224"


def test_cli_refuses_a_backbone_without_a_pyramid_in_one_line():
    result = CliRunner().invoke(app, ["flops", "seg:upernet:vit_small_patch16_224", "--size", "512x512"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: NAME: seg:upernet:vit_small_patch16_224: ")


@pytest.mark.parametrize("name,size,params,gmacs_rel", [
    # reproduced: parameters to the published digit, GMACs within 0.2% (README: Dense prediction)
    (f"seg:upernet:{TINY}", (512, 512), 41_561_516, 0.001),
    (f"seg:upernet:{SWIN}", (512, 2048), 59_941_862, 0.002),
    (f"det:maskrcnn:{SWIN}", (800, 1280), 47_794_602, 0.001),
    (f"seg:paca:{TINY}", (512, 512), 13_326_764, 0.003),
    # parameters reproduced; the released GMACs are ~15 G above the standard-setting count (README)
    (f"det:maskrcnn:{TINY}", (800, 1280), 31_974_896, None),
    ("det:maskrcnn:pacavit_small_p2cconv_100_0", (800, 1280), 41_811_920, None),
    ("det:maskrcnn:pacavit_base_p2cconv_100_0", (800, 1280), 66_606_672, None),
    ("det:maskrcnn:pvt_v2_b1", (800, 1280), 33_663_408, None),
])
def test_released_dense_figures(name, size, params, gmacs_rel):
    built = build_target("model", name, {}, *size, 1, device="meta")
    released = RELEASED_DENSE_FIGURES[name]
    assert released["size"] == size
    assert count_params(built.module) == params
    assert round(params / 1e6, 1) == pytest.approx(released["params_m"], abs=0.5 if params > 47e6 else 0.05)
    if gmacs_rel is not None:
        assert count_flops(built.module, built.inputs).gmacs == pytest.approx(released["gmacs"], rel=gmacs_rel)


@pytest.mark.parametrize("name,parts", [
    (f"det:maskrcnn:{TINY}", ["backbone", "neck", "rpn", "roi_heads"]),
    (f"seg:upernet:{SWIN}", ["backbone", "decode_head", "auxiliary_head"]),
    ("seg:fpn:pvt_v2_b1", ["backbone", "neck", "decode_head"]),
    (f"seg:{TINY}", ["backbone", "decode_head"]),
])
def test_top_level_children_are_the_parts(name, parts):
    module = build_target("model", name, {}, 256, 256, 1, device="meta").module
    assert [child for child, _ in module.named_children()] == parts
    assert sum(count_params(getattr(module, part)) for part in parts) == count_params(module)


def test_zoo_backbone_defaults_follow_the_released_configs():
    """Mask R-CNN keeps the variant's clusters [100, 100, 100, 0]; the segmenters use [200, 200, 200, 0]."""
    detector = build_target("model", f"det:maskrcnn:{TINY}", {}, 256, 256, 1, device="meta").module
    segmenter = build_target("model", f"seg:fpn:{TINY}", {}, 256, 256, 1, device="meta").module
    assert list(detector.backbone.body.clusters) == [100, 100, 100, 0]
    assert list(segmenter.backbone.body.clusters) == [200, 200, 200, 0]


def test_dense_cells_are_measured():
    """A detector cell (inference) and a segmenter cell (training step, with its memory peak)."""
    common = dict(kind="model", height=64, width=64, warmup=0, min_repeats=1, min_time_s=0.0)
    detector = measure_cell(Cell(name=f"det:maskrcnn:{TINY}", params={"clusters": [8, 8, 8, 0]},
                                 metrics=("flops", "params", "latency"), **common))
    segmenter = measure_cell(Cell(name="seg:fpn:pvt_v2_b0", params={}, batch=2, mode="train", **common))
    for row in (detector, segmenter):
        assert row["status"] == "ok", row["message"]
        assert row["tokens"] == 16 * 16 and row["flops_agree"] and row["latency_samples"] >= 1
    assert segmenter["peak_mem_mb"] > 0
