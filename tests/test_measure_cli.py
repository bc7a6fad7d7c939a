"""`pacabench flops`: the JSON contract, readable output, and exit code 2 on bad input."""
import json

import pytest
from typer.testing import CliRunner

from pacabench.cli import app


def _invoke(*args):
    return CliRunner().invoke(app, ["flops", *args])


def test_json_object_has_the_contract_fields():
    result = _invoke("vit_small_patch16_224", "--resolution", "896", "--batch", "2", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["name"] == "vit_small_patch16_224" and out["resolution"] == [896, 896] and out["batch"] == 2
    assert out["params"] == 22_050_664 + 3136 * 384 - 196 * 384  # position embedding grows with the grid
    assert out["gmacs"] == pytest.approx(2 * 158.38, rel=0.005)
    assert out["gmacs_flopcounter"] == pytest.approx(out["gmacs"], rel=0.01)
    assert out["method"] == "fvcore+handles/meta" and out["uncounted_ops"] == ["aten::add", "aten::gelu"]


def test_operator_with_size_and_table_output():
    result = _invoke("op:paca?clusters=49", "--size", "64x128", "--json")
    out = json.loads(result.stdout)
    assert out["resolution"] == [64, 128] and out["target_params"] == {"clusters": 49}
    table = _invoke("op:paca?clusters=49", "--size", "64x128")
    assert table.exit_code == 0
    assert "GMACs (1 MAC = 1 FLOP)" in table.stdout and f"{out['gmacs']:.4f}" in table.stdout


def test_unknown_name_exits_2_with_one_line_suggestion():
    result = _invoke("vit_smal_patch16_224", "--json")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: NAME: unknown model 'vit_smal_patch16_224'; did you mean: vit_small_patch16_224, "
        "deit_small_patch16_224, vit_small_patch8_224?"]


def test_bad_size_exits_2():
    result = _invoke("vit_small_patch16_224", "--size", "12")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --size: '12' is not HxW; write e.g. --size 896x1344"


def test_help_shows_an_example():
    result = _invoke("--help")
    assert result.exit_code == 0 and "pacabench flops vit_small_patch16_224 --resolution 4096 --json" in result.stdout
