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
    assert list(rows.index) == ["gmacs", "gmacs_mixing", "bytes_written", "peak_mem_predicted_mb"]
    assert (rows["c2"] == 0.0).all()
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


class EinsumAttention(nn.Module):
    """Global attention written with torch.einsum, as many research codebases do."""

    def __init__(self, dim=48, heads=2):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attention = torch.einsum("bhqd,bhkd->bhqk", q, k).softmax(-1)
        return self.proj(torch.einsum("bhqk,bhkd->bhqd", attention, v).transpose(1, 2).reshape(b, n, c))


def einsum_attention(height, width, batch):
    return EinsumAttention(), torch.randn(batch, (height // 4) * (width // 4), 48)


def test_einsum_attention_is_exact_in_both_counters():
    counted = api.count(einsum_attention, 224, crosscheck=True)
    n = 56 * 56
    assert round(counted.gmacs_mixing * 1e9) == 2 * n * n * 48         # numpy prints 1.888e+09 FLOPs each
    assert round(counted.gmacs_fvcore * 1e9) == 2 * n * n * 48 + 4 * n * 48 * 48
    assert counted.flops_agree is True


@pytest.mark.parametrize("equation,shapes,macs", [
    ("bhqd,bhkd->bhqk", [(2, 3, 5, 7), (2, 3, 11, 7)], 2 * 3 * 5 * 11 * 7),
    ("...qd,...kd->...qk", [(2, 3, 5, 7), (2, 3, 11, 7)], 2 * 3 * 5 * 11 * 7),
    ("ij,jk", [(4, 5), (5, 6)], 4 * 5 * 6),                       # implicit output
    ("ij,jk,kl->il", [(4, 5), (5, 6), (6, 3)], 4 * 5 * 6 + 4 * 6 * 3),  # left to right
    ("ij,kj->i", [(4, 5), (6, 5)], 4 * 5),                        # k summed away first
    ("i,j->ij", [(4,), (5,)], 0),                                 # an elementwise product
])
def test_einsum_macs_match_torch_as_it_runs_them(equation, shapes, macs):
    from torch.utils.flop_counter import FlopCounterMode

    from pacabench.measure.flop_handles import einsum_macs

    with FlopCounterMode(display=False) as counter:
        torch.einsum(equation, *(torch.zeros(shape) for shape in shapes))
    assert einsum_macs(equation, shapes) == macs == counter.get_total_flops() // 2


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x)[0]


B, N, E, F = 2, 10, 32, 64


@pytest.mark.parametrize("make,expected", [
    (lambda: SelfAttention(E, 4), {"mixing": 2 * B * N * N * E, "dense": 4 * B * N * E * E, "other": 0}),
    (lambda: nn.TransformerEncoderLayer(E, 4, F, batch_first=True),
     {"mixing": 2 * B * N * N * E, "dense": 4 * B * N * E * E + 2 * B * N * E * F, "other": 2 * 5 * B * N * E}),
])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
def test_fused_fast_paths_are_counted_on_real_tensors(make, expected, device):
    from pacabench.measure.flops import count_flops

    module = make().to(device).eval()
    counted = count_flops(module, (torch.randn(B, N, E, device=device),))
    assert counted.by_class == expected and counted.uncounted_ops == []
    assert counted.fvcore_macs == sum(expected.values()) and counted.agree
    on_meta = count_flops(module.to("meta"), (torch.empty(B, N, E, device="meta"),))  # the slow path
    assert on_meta.by_class == expected


def test_breakdown_charges_a_weight_called_functionally_to_its_module(tmp_path, monkeypatch):
    """nn.MultiheadAttention calls out_proj as F.linear(x, out_proj.weight): its forward never runs."""
    (tmp_path / "mha_target.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "class SelfAttention(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        f"        self.attn = nn.MultiheadAttention({E}, 4, batch_first=True)\n\n"
        "    def forward(self, x):\n        return self.attn(x, x, x)[0]\n\n"
        f"def make(height, width, batch):\n    return SelfAttention(), torch.randn(batch, {N}, {E})\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(app, ["flops", "py:mha_target:make", "--breakdown", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["module"]: row for row in json.loads(result.stdout)["breakdown"]}
    assert round(rows["attn.out_proj"]["gmacs_dense"] * 1e9) == N * E * E       # batch 1
    assert round(rows["attn"]["gmacs_dense"] * 1e9) == 4 * N * E * E            # still the parent's too
    assert round(rows[""]["gmacs"] * 1e9) == 4 * N * E * E + 2 * N * N * E      # nothing counted twice


class TrainsDifferently(nn.Module):
    """Batch norm (fvcore: 2 MACs per element in eval, 5 on batch statistics), dropout, and a head
    that runs only in training (as a segmenter's auxiliary head)."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm, self.drop = nn.Conv2d(3, 8, 4, stride=4), nn.BatchNorm2d(8), nn.Dropout(0.1)
        self.auxiliary = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        x = self.drop(self.norm(self.conv(x)))
        return (x, self.auxiliary(x)) if self.training else x


def trains_differently(height, width, batch):
    return TrainsDifferently()


def test_train_counts_the_forward_as_a_training_step_runs_it():
    conv, elements = 8 * 3 * 16 * 16 * 16, 8 * 16 * 16              # 64 px, batch 1
    inference = api.count(trains_differently, 64, crosscheck=True)
    assert round(inference.gmacs * 1e9) == conv + 2 * elements and inference.gmacs_backward is None
    step = api.count(trains_differently, 64, train=True, crosscheck=True)
    assert round(step.gmacs_dense * 1e9) == conv + 2 * elements     # the auxiliary head ran
    assert round(step.gmacs_other * 1e9) == 5 * elements and step.flops_agree is True
    assert step.gmacs_backward > 0
