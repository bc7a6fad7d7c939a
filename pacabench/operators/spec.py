"""What an attention operator is to pacabench: a builder on a token grid plus its analytic cost.

Every operator takes an image resolution (H, W) and a ``stride`` (default 4, the first stage of a
pyramid ViT) and works on the token grid (H / stride) x (W / stride) at width ``dim`` with ``heads``
heads. Its module's ``forward(x)`` takes only the tokens B x N x C, so every operator is measured the
same way. ``fused_attn`` (default true) runs the attention through SDPA's fused kernels; false runs
the explicit path that materialises the attention matrix (:mod:`pacabench.models.fused_attn`).
``cost`` returns the MACs a FLOP counter (fvcore conventions: linear, conv, matmul, layer norm 5 per
element; attention kernels B*h*Nq*Nk*(dq+dv)) must find, split as the counter splits them: ``mixing``
(products of two activations), ``dense`` (weights times activations), ``other`` (norms, pooling), so
measurement can be checked part by part.

Bad parameters raise ``ValueError`` with a one-line message; ``pacabench.targets`` turns it into a
``TargetError``.
"""
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn

from pacabench.models.fused_attn import set_fused_attn
from pacabench.names import OPERATOR_INFO, operator_defaults
_HARNESS_PARAMS = ("stride", "fused_attn")  # set around the layer, not passed to its constructor
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _coerce(op: str, key: str, value: Any, default: Any) -> Any:
    """Parse ``value`` (a query-string str or a YAML scalar) to the type of ``default``."""
    if isinstance(default, bool):
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"op:{op}: {key} must be true or false, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or number < 1:
        raise ValueError(f"op:{op}: {key} must be a positive integer, got {value!r}")
    return number


@dataclass(frozen=True)
class OperatorSpec:
    """One registered operator: ``make(grid_h, grid_w, **params)`` builds the module,
    ``formula(grid_h, grid_w, batch, **params)`` gives its cost on that grid: ``mixing``, ``dense``,
    ``other`` MACs plus :func:`attention_cost`'s keys. Its description and the parameters it adds to
    COMMON_DEFAULTS are pacabench.names.OPERATOR_INFO[name] (listed without importing torch)."""

    name: str
    make: Callable[..., nn.Module]
    formula: Callable[..., dict]
    min_grid: Callable[[dict], int] = lambda params: 1  # smallest token grid side it can take

    @property
    def description(self) -> str:
        return OPERATOR_INFO[self.name].description

    @property
    def defaults(self) -> dict:
        return operator_defaults(self.name)

    def check_params(self, params: Mapping[str, Any]) -> dict:
        """Only the given keys, type-coerced and validated (for labels and ``params_json``)."""
        defaults = self.defaults
        checked = {}
        for key, value in params.items():
            if key not in defaults:
                raise ValueError(f"op:{self.name}: unknown parameter {key!r}; allowed: "
                                 f"{', '.join(sorted(defaults))}")
            checked[key] = _coerce(self.name, key, value, defaults[key])
        return checked

    def resolve(self, params: Mapping[str, Any]) -> dict:
        """Defaults overridden by ``params``, validated."""
        resolved = {**self.defaults, **self.check_params(params)}
        if resolved["dim"] % resolved["heads"]:
            raise ValueError(f"op:{self.name}: dim {resolved['dim']} is not divisible by heads "
                             f"{resolved['heads']}; pick heads dividing dim")
        return resolved

    def grid(self, height: int, width: int, **params) -> tuple[int, int]:
        """The token grid for an image resolution; the resolution must be a multiple of the stride."""
        stride = self.resolve(params)["stride"]
        if height < stride or width < stride or height % stride or width % stride:
            raise ValueError(f"op:{self.name}: resolution {height}x{width} is not a positive multiple "
                             f"of stride {stride}; use sizes {stride}, {2 * stride}, {3 * stride}, ...")
        grid_h, grid_w = height // stride, width // stride
        need = self.min_grid(self.resolve(params))
        if min(grid_h, grid_w) < need:
            raise ValueError(f"op:{self.name}: resolution {height}x{width} gives a {grid_h}x{grid_w} "
                             f"token grid, smaller than the {need}x{need} it needs; use sizes >= "
                             f"{need * stride} (multiples of {stride})")
        return grid_h, grid_w

    def tokens(self, height: int, width: int, **params) -> int:
        grid_h, grid_w = self.grid(height, width, **params)
        return grid_h * grid_w

    def build(self, height: int, width: int, batch: int = 1, *, device="cpu",
              dtype: torch.dtype = torch.float32, **params) -> tuple[nn.Module, torch.Tensor]:
        """The operator module (eval mode) and a token batch B x N x C for it."""
        resolved = self.resolve(params)
        grid_h, grid_w = self.grid(height, width, **resolved)
        with torch.device(device):
            module = self.make(grid_h, grid_w, **_layer_params(resolved))
        set_fused_attn(module, resolved["fused_attn"])
        module = module.to(dtype=dtype).eval()
        return module, random_input((batch, grid_h * grid_w, resolved["dim"]), device=device, dtype=dtype)

    def cost(self, height: int, width: int, batch: int = 1, **params) -> dict:
        """``{"macs", "mixing", "dense", "other", "attn_macs", "attn_matrix_elems"}`` of one forward
        pass over the batch: all MACs and their split by op class, the MACs of the attention
        kernels alone (scores and weighted sum), and the elements of the attention matrix
        B x h x Nq x Nk."""
        resolved = self.resolve(params)
        grid_h, grid_w = self.grid(height, width, **resolved)
        parts = self.formula(grid_h, grid_w, batch, **_layer_params(resolved))
        return {"macs": parts["mixing"] + parts["dense"] + parts["other"], **parts}


def _layer_params(resolved: Mapping[str, Any]) -> dict:
    return {key: value for key, value in resolved.items() if key not in _HARNESS_PARAMS}


def random_input(shape: tuple[int, ...], *, device, dtype: torch.dtype) -> torch.Tensor:
    """Standard-normal input; on the meta device shapes only."""
    if torch.device(device).type == "meta":
        return torch.empty(shape, device=device, dtype=dtype)
    return torch.randn(shape, device=device, dtype=dtype)


def attention_cost(batch: int, heads: int, queries: int, keys: int, dim: int) -> dict:
    """Cost of one multi-head attention kernel: scores q k^T and weighted sum attn v, each
    B*h*Nq*Nk*d MACs with d = dim / heads, i.e. B*Nq*Nk*dim each."""
    return {"attn_macs": 2 * batch * queries * keys * dim,
            "attn_matrix_elems": batch * heads * queries * keys}
