"""What can be measured: a model (any timm name, the PaCa-ViT zoo included), a dense model (a detector
or segmenter on such a backbone), or an attention operator.

Spec syntax: a model is its timm name (``swin_tiny_patch4_window7_224``); a dense model is
``det:maskrcnn:<backbone>``, ``seg:upernet:<backbone>``, ``seg:fpn:<backbone>`` or ``seg:paca:<backbone>``
(``seg:<zoo variant>`` for short; :mod:`pacabench.dense`); an operator is ``op:NAME``. Each takes
optional parameters as a query string, ``NAME?key=value&key=value``: ``op:paca?clusters=49``,
``op:swin?shift=true``, ``op:pvt?sr_ratio=4&dim=64&heads=1``,
``pacavit_tiny_p2cconv_100_0?features_only=true&clusters=200,200,200,0``,
``det:maskrcnn:pvt_v2_b1?num_classes=91`` (model parameters: ``pacabench.backbones``, ``pacabench.dense``).
Dense models count as kind "model". A target from the user's own code is
``py:<module>:<callable>?key=value`` (:mod:`pacabench.user_targets`). Every problem is a
:class:`TargetError` with a one-line message.
"""
import difflib
from dataclasses import dataclass
from typing import Callable, Mapping

import timm
import torch
from torch import nn

from pacabench import user_targets
from pacabench.backbones import build_backbone, check_model_params, check_size, first_stage_tokens
from pacabench.dense import (RELEASED_DENSE, SEG_PREFIX, build_dense, check_dense_params, is_dense, parse_dense,
                             pyramid_indices)
from pacabench.models import ZOO_VARIANTS
from pacabench.names import OPERATOR_PREFIX
from pacabench.operators import OPERATORS, OperatorSpec
from pacabench.operators.spec import random_input

KINDS = ("model", "operator", user_targets.KIND)


class TargetError(ValueError):
    """A target spec, parameter or size pacabench cannot build; the message is one line."""


class TooLargeError(TargetError):
    """A size or batch at which some tensor of the forward pass would have more elements than torch
    can count (int64): torch fails in C++ there, even on the meta device."""


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


def _closeness(name: str, candidate: str) -> tuple[float, float]:
    """(best of similarity to the whole candidate and to its head, similarity to the whole): zoo
    names are long, and a typo in ``pacavit_tny`` should still find ``pacavit_tiny_p2cconv_100_0``;
    among equal heads the closer whole name ranks first."""
    whole = difflib.SequenceMatcher(None, name, candidate).ratio()
    head = difflib.SequenceMatcher(None, name, candidate[:len(name) + 1]).ratio()
    return max(whole, head), whole


def _suggest(name: str) -> str:
    """Up to three known names, each once: those that start with ``name`` (catalog order), then the
    closest. Dense names are offered only for a dense name (they would crowd out the zoo)."""
    dense = [*RELEASED_DENSE, *(SEG_PREFIX + zoo for zoo in ZOO_VARIANTS)] if is_dense(name) else []
    candidates = list(dict.fromkeys([*dense, *ZOO_VARIANTS, *timm.list_models(),
                                     *(OPERATOR_PREFIX + op for op in OPERATORS)]))
    starting = [candidate for candidate in candidates if candidate.startswith(name)]
    scores = {candidate: _closeness(name, candidate) for candidate in candidates}
    close = sorted((c for c in candidates if scores[c][0] >= 0.6), key=lambda c: scores[c], reverse=True)
    suggestions = list(dict.fromkeys(starting + close))[:3]
    if suggestions:
        return f"did you mean: {', '.join(suggestions)}?"
    return "run `pacabench list` to see the models and operators"


def _operator(name: str) -> OperatorSpec:
    if name not in OPERATORS:
        raise TargetError(f"unknown operator '{OPERATOR_PREFIX}{name}'; {_suggest(OPERATOR_PREFIX + name)}")
    return OPERATORS[name]


def _check_model(name: str) -> None:
    if is_dense(name):
        try:
            backbone = parse_dense(name).backbone
        except ValueError as error:  # seg:<name> without a head may be a typo in a zoo name
            alias = name.startswith(SEG_PREFIX) and name.count(":") == 1
            raise TargetError(f"{error}; {_suggest(name)}" if alias else str(error)) from None
        if backbone not in ZOO_VARIANTS and not timm.is_model(backbone):
            raise TargetError(f"{name}: unknown backbone '{backbone}'; {_suggest(backbone)}")
        try:
            pyramid_indices(backbone)
        except ValueError as error:
            raise TargetError(f"{name}: {error}") from None
    elif name not in ZOO_VARIANTS and not timm.is_model(name):
        raise TargetError(f"unknown model '{name}'; {_suggest(name)}")


def check_params(name: str, params: Mapping) -> dict:
    """A model's or a dense model's parameters checked by its own rules; TargetError naming the key."""
    return _checked(check_dense_params if is_dense(name) else check_model_params, name, params)


def _parse_query(target: str, query: str) -> dict:
    params = {}
    for item in filter(None, query.split("&")):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise TargetError(f"{target}: parameter {item!r} is not key=value; "
                              f"write {target}?key=value&key=value")
        params[key] = value
    return params


def parse_target(spec: str) -> tuple[str, str, dict]:
    """``(kind, name, params)``: kind "model" (dense models included) or "operator"; params type-checked
    (only those given)."""
    spec = spec.strip()
    if spec.startswith(user_targets.PY_PREFIX):
        name, _, query = spec[len(user_targets.PY_PREFIX):].partition("?")
        _checked(user_targets.load, name)
        return user_targets.KIND, name, user_targets.coerce(_parse_query(spec.partition("?")[0], query))
    if spec.startswith(OPERATOR_PREFIX):
        name, _, query = spec[len(OPERATOR_PREFIX):].partition("?")
        operator = _operator(name)
        return "operator", name, _checked(operator.check_params, _parse_query(OPERATOR_PREFIX + name, query))
    name, _, query = spec.partition("?")
    _check_model(name)
    return "model", name, check_params(name, _parse_query(name, query))


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
    if kind == user_targets.KIND:
        factory = _checked(user_targets.load, name)
        return Built(*_checked(user_targets.build, factory, user_targets.PY_PREFIX + name, params, height, width,
                               batch, device=device, dtype=dtype))
    _check_model(name)
    params = check_params(name, params)
    _checked(check_size, name, height, width)
    build = build_dense if is_dense(name) else build_backbone
    module = _checked(build, name, height, width, device=device, dtype=dtype, **params)
    images = random_input((batch, 3, height, width), device=device, dtype=dtype)
    return Built(module, (images,), first_stage_tokens(name, height, width, module))
