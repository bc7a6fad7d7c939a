"""Attention operators at matched width on the token grid of an image resolution.

``OPERATORS[name]`` is an :class:`OperatorSpec`: ``.description``, ``.defaults``,
``.build(H, W, batch, device=, dtype=, **params) -> (module, tokens)`` and
``.cost(H, W, batch, **params) -> {"macs", "attn_macs", "attn_matrix_elems"}``.
On the command line an operator is ``op:NAME?key=value&key=value``, e.g. ``op:paca?clusters=49``.
"""
from pacabench.operators import paca, pvt, swin, vit
from pacabench.operators.spec import OperatorSpec

OPERATORS: dict[str, OperatorSpec] = {
    spec.name: spec for module in (paca, swin, pvt, vit) for spec in module.SPECS
}

__all__ = ["OPERATORS", "OperatorSpec"]
