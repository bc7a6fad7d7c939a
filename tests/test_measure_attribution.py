"""Zoo and peer backbones against an independent count: their attention (mixing) from closed forms
of each architecture, their weights (dense) from forward hooks on every Linear and Conv2d (output
elements times the inputs each one reads), neither from the dispatch counter."""
import pytest
import timm
import torch
from torch import nn

import pacabench  # noqa: F401  (registers the PaCa zoo with timm)
from pacabench.measure.flops import count_flops


def dense_by_hooks(model: nn.Module, x: torch.Tensor) -> int:
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        else:
            kh, kw = module.kernel_size
            total += output.numel() * module.in_channels // module.groups * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return total


def tokens(size: int, stride: int) -> int:
    return (size // stride) ** 2


def paca_tiny_mixing(size):
    """Stages 1-3: clusters z @ x (M N C) and attention N -> M (2 N M C) per block; stage 4 global."""
    dims, depths, clusters = (96, 192, 320, 384), (2, 2, 4, 2), (100, 100, 100, 0)
    total = 0
    for i, (c, d, m) in enumerate(zip(dims, depths, clusters)):
        n = tokens(size, 4 * 2 ** i)
        total += d * (3 * n * m * c if m else 2 * n * n * c)
    return total


def deit_small_mixing(size):
    n = tokens(size, 16) + 1  # the class token
    return 12 * 2 * n * n * 384


def swin_tiny_mixing(size):
    """7 x 7 windows, no padding at multiples of 224: 2 N 49 C per block."""
    return sum(d * 2 * tokens(size, 4 * 2 ** i) * 49 * c
               for i, (c, d) in enumerate(zip((96, 192, 384, 768), (2, 2, 6, 2))))


def pvt_b1_mixing(size):
    """Keys from an R x R reduction: 2 N (N / R^2) C per block."""
    return sum(d * 2 * tokens(size, 4 * 2 ** i) * (tokens(size, 4 * 2 ** i) // r ** 2) * c
               for i, (c, d, r) in enumerate(zip((64, 128, 320, 512), (2, 2, 2, 2), (8, 4, 2, 1))))


CASES = [("pacavit_tiny_p2cconv_100_0", paca_tiny_mixing), ("deit_small_patch16_224", deit_small_mixing),
         ("swin_tiny_patch4_window7_224", swin_tiny_mixing), ("pvt_v2_b1", pvt_b1_mixing)]


@pytest.mark.parametrize("size", [224, 448])
@pytest.mark.parametrize("name,mixing", CASES, ids=[name for name, _ in CASES])
def test_mixing_and_dense_equal_independent_counts(name, mixing, size):
    kwargs = {"img_size": size} if name.startswith(("deit", "swin")) else {}
    with torch.device("meta"):
        model = timm.create_model(name, **kwargs).eval()
        x = torch.empty(1, 3, size, size)
    counted = count_flops(model, (x,), crosscheck=False)
    assert counted.by_class["mixing"] == mixing(size)
    assert counted.by_class["dense"] == dense_by_hooks(model, x)
