"""What can be measured: a model (any timm name, the PaCa-ViT zoo included) or an attention operator.

Spec syntax: a model is its timm name (``swin_tiny_patch4_window7_224``); an operator is
``op:NAME`` with optional parameters as a query string, ``op:NAME?key=value&key=value``
(``op:paca?clusters=49``, ``op:swin?shift=true``, ``op:pvt?sr_ratio=4&dim=64&heads=1``).
Every problem is a :class:`TargetError` with a one-line message.
"""
import difflib
from dataclasses import dataclass
from typing import Callable, Mapping

import timm
import torch
from torch import nn

from pacabench.backbones import build_backbone, check_size, first_stage_tokens
from pacabench.models import ZOO_VARIANTS
from pacabench.operators import OPERATORS, OperatorSpec
from pacabench.operators.spec import random_input

OPERATOR_PREFIX = "op:"
KINDS = ("model", "operator")


class TargetError(ValueError):
    """A target spec, parameter or size pacabench cannot build; the message is one line."""


@dataclass(frozen=True)
class Built:
    """A module ready to measure: ``module(*inputs)``; ``tokens`` at its first attention stage."""

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    tokens: int


def _checked(call: Callable, *args, **kwargs):
    """Run a validation that reports problems as ValueError; report them as TargetError."""
    try:
        return call(*args, **kwargs)
    except ValueError as error:
        raise TargetError(str(error)) from None


def _suggest(name: str) -> str:
    candidates = {*ZOO_VARIANTS, *timm.list_models(), *(OPERATOR_PREFIX + op for op in OPERATORS)}
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if close:
        return f"did you mean: {', '.join(close)}?"
    return "run `pacabench list` to see the models and operators"


def _operator(name: str) -> OperatorSpec:
    if name not in OPERATORS:
        raise TargetError(f"unknown operator '{OPERATOR_PREFIX}{name}'; {_suggest(OPERATOR_PREFIX + name)}")
    return OPERATORS[name]


def _check_model(name: str) -> None:
    if name not in ZOO_VARIANTS and not timm.is_model(name):
        raise TargetError(f"unknown model '{name}'; {_suggest(name)}")


def _parse_query(operator: str, query: str) -> dict:
    params = {}
    for item in filter(None, query.split("&")):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise TargetError(f"op:{operator}: parameter {item!r} is not key=value; "
                              f"write op:{operator}?key=value&key=value")
        params[key] = value
    return params


def parse_target(spec: str) -> tuple[str, str, dict]:
    """``(kind, name, params)``: kind "model" or "operator"; params type-checked (only those given)."""
    spec = spec.strip()
    if spec.startswith(OPERATOR_PREFIX):
        name, _, query = spec[len(OPERATOR_PREFIX):].partition("?")
        operator = _operator(name)
        return "operator", name, _checked(operator.check_params, _parse_query(name, query))
    name, sep, _ = spec.partition("?")
    _check_model(name)
    if sep:
        raise TargetError(f"model '{name}' takes no parameters; only operators do ({OPERATOR_PREFIX}NAME?key=value)")
    return "model", name, {}


def build_target(kind: str, name: str, params: Mapping, height: int, width: int, batch: int, *,
                 device="cpu", dtype: torch.dtype | str = torch.float32) -> Built:
    """The module (eval mode) and random inputs for one forward pass over ``batch`` images of H x W.
    ``device="meta"`` builds shapes only (for counting FLOPs of cells that do not fit in memory)."""
    if kind not in KINDS:
        raise TargetError(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)}")
    if batch < 1:
        raise TargetError(f"batch must be >= 1, got {batch}")
    if isinstance(dtype, str):
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise TargetError(f"dtype {dtype!r} is not a torch dtype; use float32, bfloat16 or float16")
        dtype = getattr(torch, dtype)
    if kind == "operator":
        operator = _operator(name)
        resolved = _checked(operator.resolve, params)
        tokens = _checked(operator.tokens, height, width, **resolved)
        module, inputs = operator.build(height, width, batch, device=device, dtype=dtype, **resolved)
        return Built(module, (inputs,), tokens)
    _check_model(name)
    if params:
        raise TargetError(f"model '{name}' takes no parameters, got: {', '.join(sorted(params))}")
    _checked(check_size, name, height, width)
    module = build_backbone(name, height, width, device=device, dtype=dtype)
    images = random_input((batch, 3, height, width), device=device, dtype=dtype)
    return Built(module, (images,), first_stage_tokens(name, height, width, module))
