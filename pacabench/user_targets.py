"""Targets from the user's own code: ``py:<module>:<callable>?key=value`` anywhere a target is
accepted, and factories passed to the Python API.

The contract: ``callable(height, width, batch, **params)`` returns ``module``, ``(module, inputs)``
or ``(module, inputs, tokens)``. A bare module gets images ``(batch, 3, height, width)``. Without
``tokens``, N is the second dimension of a 3-D token input (B x N x C), else that of an image model
(its patch size, else one token per pixel). ``inputs`` is a tensor or a tuple of tensors.

The callable runs under ``torch.device(device)``, so the modules and tensors it makes land on that
device without arguments: the meta device for counts (nothing allocated, any size), the real device
for time and memory. Code that needs data to build or run (``.item()``, NumPy, shapes read from
values) cannot be counted on the meta device and gets a one-line error saying so.

Importing a module runs its code. pacabench imports one only for a target that names it (as pytest
imports a ``conftest.py``), with the current directory importable (as ``python -m`` does), and
never at ``--help`` or ``list``.
"""
from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from pacabench.messages import one_line

PY_PREFIX = "py:"
KIND = "python"


class UserTargetError(ValueError):
    """A user target that cannot be imported, built or counted; the message is one line."""


def split_name(name: str) -> tuple[str, str]:
    """``pkg.mod:make`` -> ("pkg.mod", "make")."""
    module, sep, attribute = name.partition(":")
    if not sep or not module or not attribute or ":" in attribute:
        raise UserTargetError(f"{PY_PREFIX}{name}: write py:<module>:<callable>, e.g. py:my_attention:make")
    return module, attribute


def load(name: str) -> Callable[..., Any]:
    """The callable ``module:attribute`` names, imported with the current directory on the path."""
    module_name, attribute = split_name(name)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - the user's module may raise anything on import
        raise UserTargetError(f"{PY_PREFIX}{name}: cannot import {module_name!r} ({one_line(error)}); "
                              f"run pacabench from the folder that holds it, or install it") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise UserTargetError(f"{PY_PREFIX}{name}: module {module_name!r} has no callable {attribute!r}")
    return factory


def coerce(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query-string values as Python values: true/false, integers, floats, else text (YAML values
    keep their types)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in ("true", "false"):
                value = text.lower() == "true"
            else:
                for kind in (int, float):
                    try:
                        value = kind(text)
                        break
                    except ValueError:
                        continue
        out[key] = value
    return out


def build(factory: Callable[..., Any], label: str, params: Mapping[str, Any], height: int, width: int,
          batch: int, *, device, dtype):
    """Run the factory on ``device`` and return ``(module, inputs, tokens)`` by the contract above."""
    import torch

    from pacabench.backbones import first_stage_tokens
    from pacabench.operators.spec import random_input

    on_meta = torch.device(device).type == "meta"
    try:
        with torch.device(device):
            made = factory(height, width, batch, **coerce(params))
    except Exception as error:  # noqa: BLE001 - the user's code may raise anything
        where = " on the meta device" if on_meta else ""
        hint = ("; counting runs your code with no data: avoid .item(), NumPy and shapes read from values"
                if on_meta else "")
        raise UserTargetError(f"{label}: cannot be built{where} ({one_line(error)}){hint}") from None
    module, inputs, tokens = _unpack(label, made)
    if inputs is None:
        inputs = (random_input((batch, 3, height, width), device=device, dtype=dtype),)
    module = module.to(device=device, dtype=dtype).eval()
    inputs = tuple(t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype) for t in inputs)
    if tokens is None:
        first = inputs[0]
        tokens = first.shape[1] if first.dim() == 3 else first_stage_tokens(label, height, width, module)
    return module, inputs, int(tokens)


def _unpack(label: str, made):
    import torch
    from torch import nn

    if isinstance(made, nn.Module):
        return made, None, None
    if isinstance(made, tuple) and len(made) in (2, 3) and isinstance(made[0], nn.Module):
        inputs = made[1] if isinstance(made[1], tuple) else (made[1],)
        if inputs and all(isinstance(t, torch.Tensor) for t in inputs):
            tokens = made[2] if len(made) == 3 else None
            if isinstance(tokens, int) and tokens >= 2 ** 63:
                raise UserTargetError(f"{label}: returned tokens = {tokens:.3g}, more than a results row holds "
                                      f"(2^63 - 1); return N, the tokens at the first attention stage")
            if tokens is None or (isinstance(tokens, int) and tokens > 0):
                return made[0], inputs, tokens
    raise UserTargetError(f"{label}: returned {type(made).__name__}; return a module, (module, inputs) or "
                          f"(module, inputs, tokens) with inputs a tensor or a non-empty tuple of tensors")
