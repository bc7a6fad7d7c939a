"""`pacabench list` names every zoo model, peer backbone, released dense model and operator."""
import json
from pathlib import Path

from typer.testing import CliRunner

from pacabench.backbones import PEER_BACKBONES
from pacabench.cli import app
from pacabench.dense import RELEASED_DENSE
from pacabench.models import ZOO_VARIANTS
from pacabench.operators import OPERATORS

runner = CliRunner()


def test_list_json_has_every_target():
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    catalog = json.loads(result.stdout)
    assert [row["name"] for row in catalog["zoo"]] == ZOO_VARIANTS
    assert [row["name"] for row in catalog["backbones"]] == list(PEER_BACKBONES)
    assert [row["name"] for row in catalog["operators"]] == [f"op:{name}" for name in OPERATORS]
    dense = {row["name"]: row for row in catalog["dense"]}
    assert list(dense) == list(RELEASED_DENSE)
    seg_tiny = dense["seg:paca:pacavit_tiny_p2cconv_100_0"]
    assert seg_tiny["defaults"] == {"num_classes": 150, "clusters": [200, 200, 200, 0]}
    assert seg_tiny["description"] == ("PaCa segmentation head; sizes: multiples of 32; "
                                       "released at 512x512: 13.3M params, 34.4 GMACs")
    # the released detectors keep the variant's own clusters; PVTv2's paper gives parameters only
    assert dense["det:maskrcnn:pacavit_tiny_p2cconv_100_0"]["defaults"] == {"num_classes": 80}
    assert dense["det:maskrcnn:pvt_v2_b1"]["description"].endswith("released at 800x1280: 33.7M params")
    paca = catalog["operators"][0]
    assert paca["defaults"] == {"stride": 4, "dim": 96, "heads": 2, "fused_attn": True, "clusters": 100}
    swin_t = catalog["backbones"][0]["description"]
    assert swin_t == "Swin; sizes: multiples of 32; released at 224: 28.3M params, 4.5 GMACs"


def test_list_text_one_line_per_target():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    for name in [*ZOO_VARIANTS, *PEER_BACKBONES, *RELEASED_DENSE, *(f"op:{op}" for op in OPERATORS)]:
        assert sum(line.split()[0] == name for line in lines if line.startswith("  ")) == 1
    swin_defaults = "[stride=4 dim=96 heads=2 fused_attn=true window=7 shift=false]"
    assert any(line.startswith("  op:swin ") and swin_defaults in line for line in lines)
    assert any(line.startswith("  seg:paca:pacavit_base_p2cconv_100_0 ")
               and line.endswith("[num_classes=150 clusters=200,200,200,0]") for line in lines)


def test_list_help_documents_operator_syntax():
    result = runner.invoke(app, ["list", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "op:NAME?key=value&key=value" in result.stdout
    assert "pacabench flops 'op:paca?clusters=49' --resolution 896 --json" in result.stdout
    assert "pacabench flops seg:pacavit_tiny_p2cconv_100_0 --resolution 512" in result.stdout
    assert "pacabench flops det:maskrcnn:swin_tiny_patch4_window7_224 --size 800x1280" in result.stdout
    assert "NAME?features_only=true" in result.stdout


def test_dense_prediction_suite_validates():
    suite = Path(__file__).parents[1] / "suites" / "dense_prediction.yaml"
    result = runner.invoke(app, ["validate", str(suite)])
    assert result.exit_code == 0, result.output
    assert f"{suite}: ok (15 targets, 69 cells)" in result.output
