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
    assert out["gmacs_fvcore"] == out["gmacs"] and out["flops_agree"] is True
    assert out["gmacs_mixing"] + out["gmacs_dense"] + out["gmacs_other"] == pytest.approx(out["gmacs"])
    n = 56 * 56 + 1  # tokens and the class token
    assert out["gmacs_mixing"] * 1e9 == 2 * 12 * 2 * n * n * 384  # batch 2, 12 blocks, Q K^T and A V
    assert out["flops_method"] == "FlopCounterMode+pacabench/meta"
    assert {"aten::add", "aten::gelu"} <= set(out["uncounted_ops"]) and "breakdown" not in out


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


def test_breakdown_is_a_module_tree_that_adds_up():
    result = _invoke("pacavit_tiny_p2cconv_100_0", "--resolution", "448", "--breakdown", "--depth", "2", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    rows = {row["module"]: row for row in out["breakdown"]}
    assert rows[""]["gmacs"] == out["gmacs"] and rows[""]["params"] == out["params"]
    top = [row for row in out["breakdown"] if row["depth"] == 1]
    assert sum(row["gmacs"] for row in top) == pytest.approx(out["gmacs"], rel=1e-12)
    assert sum(row["params"] for row in top) == out["params"]
    assert rows["stage1"]["gmacs"] == pytest.approx(rows["stage1.0"]["gmacs"] + rows["stage1.1"]["gmacs"])
    assert max(row["depth"] for row in out["breakdown"]) == 2
    assert [row["module"] for row in top][:3] == ["patch_embed", "stage1", "norm1"]  # definition order
    table = _invoke("pacavit_tiny_p2cconv_100_0", "--resolution", "448", "--breakdown")
    assert "where the GMACs go" in table.stdout and "stage4" in table.stdout


def test_breakdown_carries_the_bytes_each_module_writes():
    out = json.loads(_invoke("op:vit?fused_attn=false", "--resolution", "224", "--breakdown", "--json").stdout)
    rows = {row["module"]: row for row in out["breakdown"]}
    square, tokens = 2 * 3136 * 3136 * 4, 3136 * 96 * 4  # two heads of N x N float32; N x C float32
    # scores and softmax weights; qkv (3), q * scale, A V, heads merged, proj
    assert out["bytes_written"] == rows[""]["bytes_written"] == 2 * square + 7 * tokens
    assert rows["attn.qkv"]["bytes_written_dense"] == 3 * tokens
    assert rows["attn"]["bytes_written_other"] == square + 2 * tokens
    assert "module_bytes" not in out
    table = _invoke("op:vit?fused_attn=false", "--resolution", "224", "--breakdown").stdout
    assert "MB written" in table and "158.1 (76.2 / 4.6 / 77.3)" in table


def test_train_adds_the_backward_pass():
    out = json.loads(_invoke("op:vit", "--resolution", "64", "--train", "--json").stdout)
    assert out["gmacs_backward"] > out["gmacs"]
    assert json.loads(_invoke("op:vit", "--resolution", "64", "--json").stdout)["gmacs_backward"] is None
