"""`pacabench scaling`: exact verdicts of whole backbones, where the N^2 term lives, the JSON contract
(scaling.csv's fields) and one-line errors."""
import json

import pytest
from typer.testing import CliRunner

from pacabench.analysis.scaling import TABLE_COLUMNS
from pacabench.cli import app

SIZES = "224,448,672,896"


def _scaling(*args):
    return CliRunner().invoke(app, ["scaling", *args])


def _json(name, resolutions=SIZES):
    result = _scaling(name, "--resolutions", resolutions, "--json")
    assert result.exit_code == 0, result.output
    return {row["metric"]: row for row in json.loads(result.stdout)}


@pytest.mark.parametrize("name,verdict,where", [
    ("pacavit_tiny_p2cconv_100_0", "quadratic", "stage4.[0-1].attn"),        # stage 4 has no clusters
    ("pacavit_small_p2cconv_100", "linear", ""),                             # clusters in every stage
    ("deit_small_patch16_224", "quadratic", "blocks.[0-11].attn"),
    ("pvt_v2_b1", "quadratic", "stages.[0-3].blocks.[0-1].attn"),            # spatial reduction, then global
    ("swin_tiny_patch4_window7_224", "linear", ""),
    ("op:pvt_li", "linear", ""),
])
def test_whole_backbones_get_exact_verdicts_naming_the_n2_modules(name, verdict, where):
    rows = _json(name)
    gmacs = rows["gmacs"]
    assert set(gmacs) == set(TABLE_COLUMNS)
    assert (gmacs["verdict"], gmacs["method"], gmacs["max_residual"]) == (verdict, "exact", 0.0)
    assert gmacs["quadratic_modules"] == where
    assert rows["gmacs_mixing"]["verdict"] == verdict
    assert (gmacs["c2"] > 0) == (verdict == "quadratic") and (gmacs["c2"] == 0) == (verdict == "linear")


def test_deit_square_term_is_its_attention_exactly():
    """DeiT-S: 12 blocks of global attention over N + 1 tokens (class token), width 384:
    mixing = 12 * 2 * 384 * (N + 1)^2, so c2 = 12 * 768 MACs per token^2."""
    mixing = _json("deit_small_patch16_224")["gmacs_mixing"]
    assert mixing["c2"] * 1e9 == pytest.approx(12 * 2 * 384)
    assert mixing["c1"] * 1e9 == pytest.approx(12 * 2 * 384 * 2)
    assert mixing["c0"] * 1e9 == pytest.approx(12 * 2 * 384)
    gmacs = _json("deit_small_patch16_224")["gmacs"]
    assert gmacs["dominance"] == "within" and 448 < gmacs["dominance_resolution"] < 896
    assert gmacs["reason"].startswith("quadratic: an N² term in blocks.[0-11].attn; ")


def test_paca_tiny_dominance_is_extrapolated_far_beyond_the_sweep():
    gmacs = _json("pacavit_tiny_p2cconv_100_0")["gmacs"]
    assert gmacs["dominance"] == "extrapolated" and gmacs["dominance_resolution"] > 4096
    assert gmacs["quadratic_share_max"] < 0.05
    assert "(extrapolated beyond the sizes measured)" in gmacs["reason"]


def test_text_output_names_the_verdict_and_the_sizes():
    result = _scaling("op:vit", "--resolutions", "64,96,128,160")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("op:vit: quadratic\n")
    assert "GMACs: quadratic: an N² term in attn; " in result.stdout and "160 px" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["op:vit", "--resolutions", "224,448"],
     "error: --resolutions: 2 distinct size(s); a cost model needs at least 3 (4 or more to check it)"),
    (["op:vit", "--resolutions", "224,big"],
     "error: --resolutions: 'big' is not a size; write e.g. --resolutions 224,448,896 or 800x1280,1600x2560"),
    (["pacavit_tiny_p2cconv_100_0", "--resolutions", "224,448,100"],
     "error: --resolutions: pacavit_tiny_p2cconv_100_0 (PaCa-ViT) takes sizes that are positive multiples of "
     "32 (e.g. 224, 256, 512); got 100x100"),
    (["vit_tiny_nope"], None),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = _scaling(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    if message:
        assert lines[0] == message
