"""Count MACs at dispatch level and say where they go: by op class and by module.

Built on ``torch.utils.flop_counter.FlopCounterMode``: its op formulas (attention kernels and their
backward passes included) and its module tracker, which knows under which module path each op runs.
Dispatch level means it sees exactly what autograd and the backend run, on any device, the meta
device included, without tracing; pacabench adds the formulas of :mod:`~pacabench.measure.flop_handles`.

Op classes: every counted op is a product of two tensors or a per-element convention.

- ``mixing``: a product of two activations: both operands depend on the input (Q K^T, attention
  times V, every SDPA kernel, PaCa's cluster pooling ``z @ x``, window attention, ...);
- ``dense``: a product with at least one operand that does not depend on the input: weights times
  activations (linear, convolutions of every kind) or weights times weights;
- ``other``: what is counted by convention, not as a product (norms, pooling, upsampling).

Bytes written, per op, split by the same classes and modules: what each op writes, its fresh outputs'
storage (views write nothing; an in-place op writes the elements it returns). A product writes in its
MACs' class (Q K^T's scores are mixing bytes; an SDPA kernel's output and logsumexp are mixing bytes);
every op that is not a product (elementwise, softmax, masks, copies, concatenation, sort, norms) writes
``other`` bytes, so an N^2-sized tensor made without a single multiply (a mask, a distance table) is
seen: quadratic ``other`` bytes with no mixing MACs.

"Depends on the input" is tracked, not guessed from op names: the tensors passed in are marked, and
every op whose tensor arguments include a marked one marks its outputs (an in-place op returns the
tensor it wrote to, so that is marked too). So a linear layer whose weight went through a cast, a gathered relative-position bias, or a
parameter used as queries is classed by what it multiplies, whatever op computes it.

Modules are those the op runs under, plus any module whose own parameter the op uses while that
module's forward is not running (a weight called functionally, as ``nn.MultiheadAttention`` calls its
``out_proj``): parameters, and tensors made from them alone, are traced to their modules the same way.
"""
from __future__ import annotations

import functools
from collections import defaultdict

import torch
from torch.utils.flop_counter import FlopCounterMode

from pacabench.measure.flop_handles import (DISPATCH_FORMULAS, FFN_WEIGHT_INDEX, OTHER_FORMULAS,
                                            fused_self_attention_macs, sdpa_products)
from pacabench.measure.torch_compat import WeakIdKeyDictionary, count_as_themselves

OP_CLASSES = ("mixing", "dense", "other")
ROOT = ""
"""Module path of the whole counted module."""

aten = torch.ops.aten
_SDPA_FORWARD = frozenset({
    aten._scaled_dot_product_flash_attention, aten._scaled_dot_product_efficient_attention,
    aten._scaled_dot_product_cudnn_attention, aten._scaled_dot_product_flash_attention_for_cpu,
})
_FUSED = frozenset({aten._native_multi_head_attention, aten._transformer_encoder_layer_fwd})
_BIAS_FIRST = frozenset({aten.addmm, aten.baddbmm})  # (bias, a, b)
_OTHER = frozenset(OTHER_FORMULAS)
_NOT_COMPUTE = frozenset({
    # data movement, creation and bookkeeping: not arithmetic, never listed as uncounted
    "_to_copy", "clone", "copy_", "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
    "zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "fill_", "zero_", "arange", "cat",
    "stack", "index", "index_select", "gather", "constant_pad_nd", "roll", "repeat", "detach", "lift_fresh",
    "scalar_tensor", "_local_scalar_dense", "split_with_sizes", "unbind", "slice_scatter", "select_scatter",
    "masked_fill", "where", "bernoulli_", "_unsafe_index", "new_zeros", "new_ones", "item", "flip",
    "_unsafe_view", "contiguous",
})


_OWN_FORMULAS = frozenset(DISPATCH_FORMULAS)
"""Ops counted as themselves, not decomposed: FlopCounterMode would otherwise decompose any op with a
composite kernel, so ``upsample_nearest2d`` (an FPN's top-down path) would reach the counter only as
index arithmetic, uncounted."""


class CostCounter(FlopCounterMode):
    """FlopCounterMode that also records, per module path, the MACs of each op class.

    ``inputs``: the tensors the counted call depends on (the model's inputs); ``root``: the module
    called. After the ``with`` block, :attr:`by_class` holds every MAC counted by class,
    :attr:`module_macs` maps ``""`` (the root) and the path of every submodule that ran ops
    (``stage1.0.attn``) to ``{class: MACs}``, and :attr:`uncounted` holds the names of computing
    ops with no formula (elementwise ops, softmax, ...).
    """

    def __init__(self, inputs=(), root: torch.nn.Module | None = None):
        super().__init__(display=False, custom_mapping=DISPATCH_FORMULAS)
        self._root = type(root).__name__ if root is not None else None  # the module tracker's name
        self._dependent = WeakIdKeyDictionary()
        for tensor in _tensors(inputs):
            self._dependent[tensor] = True
        self._owners = WeakIdKeyDictionary()  # parameter (or a view / cast of it) -> paths of its modules
        for path, module in (root.named_modules(remove_duplicate=False) if root is not None else ()):
            for parameter in module.parameters(recurse=False):
                self._owners.setdefault(parameter, set()).add(f"{self._root}.{path}" if path else self._root)
        self._flops: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OP_CLASSES, 0))
        self._bytes: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OP_CLASSES, 0))
        self.uncounted: set[str] = set()

    def __enter__(self):
        super().__enter__()
        count_as_themselves(self, _OWN_FORMULAS)
        return self

    def _depends(self, tensor) -> bool:
        return isinstance(tensor, torch.Tensor) and tensor in self._dependent

    def _count_flops(self, func_packet, out, args, kwargs):
        """Called by FlopCounterMode for every op it runs, with the op's arguments and output."""
        arguments = _tensors((args, kwargs))
        outputs = _tensors(out)
        depends = any(self._depends(t) for t in arguments)
        if depends:
            for tensor in outputs:
                self._dependent[tensor] = True
        parents = set(self.mod_tracker.parents)
        written = _bytes_written(func_packet, arguments, outputs, kwargs)
        if func_packet not in self.flop_registry:
            name = func_packet.__name__
            if name not in _NOT_COMPUTE and not _is_view_op(func_packet) and outputs:
                self.uncounted.add(func_packet._qualified_op_name)
            owners = set().union(*(self._owners.get(t, ()) for t in arguments)) if not depends else None
            for tensor in outputs if owners else ():  # a weight transposed, cast or reshaped
                self._owners[tensor] = owners
            self._add(self._bytes, parents, {"other": written})
            return out
        flops = self.flop_registry[func_packet](*args, **kwargs, out_val=out)
        split = self._classify(func_packet, args, flops)
        charged = parents | self._weight_owners(arguments)
        self._add(self._flops, charged, split)
        self._add(self._bytes, charged, {max(split, key=split.get): written})
        return out

    @staticmethod
    def _add(records: dict[str, dict[str, int]], parents: set[str], split: dict[str, int]) -> None:
        for parent in parents:
            record = records[parent]
            for op_class, value in split.items():
                record[op_class] += value

    def _weight_owners(self, arguments) -> set[str]:
        """Modules whose weights an op uses without their forward running (``F.linear(x,
        mha.out_proj.weight)`` in ``nn.MultiheadAttention``), with their ancestors not running either:
        the op is charged to them too, as if they had run it."""
        running = set(self.mod_tracker.parents)
        charged: set[str] = set()
        for tensor in arguments:
            owners = self._owners.get(tensor)
            if owners and not owners & running:
                parts = min(owners).split(".")
                charged.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        return charged - running

    def _classify(self, func_packet, args, flops: int) -> dict[str, int]:
        if func_packet in _OTHER:
            return {"other": flops}
        if func_packet in _FUSED:
            ffn = args[FFN_WEIGHT_INDEX].shape[0] if func_packet is aten._transformer_encoder_layer_fwd else None
            macs = fused_self_attention_macs(args[0].shape, ffn)
            if not self._depends(args[0]):  # attention over a parameter: no activation in its products
                macs = {"mixing": 0, "dense": macs["mixing"] + macs["dense"], "other": macs["other"]}
            return {op_class: 2 * value for op_class, value in macs.items()}
        if func_packet in _SDPA_FORWARD:
            q, k, v = args[:3]
            qk, av = sdpa_products(q.shape, k.shape, v.shape)
            scores_depend = self._depends(q) or self._depends(k)
            classes = {"mixing": 0, "dense": 0}
            classes[self._product_class(q, k)] += 2 * qk
            classes["mixing" if scores_depend and self._depends(v) else "dense"] += 2 * av
            return classes
        a, b = args[1:3] if func_packet in _BIAS_FIRST else args[:2]
        return {self._product_class(a, b): flops}

    def _product_class(self, a, b) -> str:
        return "mixing" if self._depends(a) and self._depends(b) else "dense"

    @property
    def by_class(self) -> dict[str, int]:
        """Every MAC counted in the block (also outside any module, e.g. in a loss) by class."""
        return _macs(self._flops["Global"]) if "Global" in self._flops else dict.fromkeys(OP_CLASSES, 0)

    @property
    def module_macs(self) -> dict[str, dict[str, int]]:
        """Module path -> {class: MACs} for the root (``""``) and its submodules."""
        return self._by_module(self._flops, _macs)

    @property
    def bytes_by_class(self) -> dict[str, int]:
        """Every byte written in the block by class (the classes of the module docstring)."""
        return dict(self._bytes["Global"]) if "Global" in self._bytes else dict.fromkeys(OP_CLASSES, 0)

    @property
    def module_bytes(self) -> dict[str, dict[str, int]]:
        """Module path -> {class: bytes written} for the root (``""``) and its submodules."""
        return self._by_module(self._bytes, dict)

    def _by_module(self, records: dict[str, dict[str, int]], convert) -> dict[str, dict[str, int]]:
        out = {}
        for name, values in records.items():
            path = module_path(name, self._root)
            if path is not None:
                out[path] = convert(values)
        return out


def module_path(name: str, root: str | None) -> str | None:
    """A module tracker's name (``VitOperator.attn``: the root's class name, then the path) as the
    path below the root (``attn``; ``""`` for the root); None outside it ("Global")."""
    if name == root:
        return ROOT
    if root is not None and name.startswith(root + "."):
        return name[len(root) + 1:]
    return None


def _macs(flops: dict[str, int]) -> dict[str, int]:
    """FlopCounterMode counts 2 FLOPs per MAC."""
    return {op_class: value // 2 for op_class, value in flops.items()}


def _tensors(tree) -> list[torch.Tensor]:
    """The tensors in an op's arguments or outputs (tuples, lists, dicts): pytree's generality is a
    third of the counter's time, and op arguments need none of it."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, (list, tuple)):
        return [tensor for item in tree for tensor in _tensors(item)]
    if isinstance(tree, dict):
        return [tensor for item in tree.values() for tensor in _tensors(item)]
    return []


def _bytes_written(func_packet, arguments: list[torch.Tensor], outputs: list[torch.Tensor], kwargs) -> int:
    """Bytes an op writes: the storage of each output that shares no argument's storage (a fresh
    tensor), plus the elements of each output an in-place op returns (aten's naming: ``add_``,
    ``copy_``, or an ``out=`` argument); views (``_unsafe_view`` included, whose schema does not say
    so) write nothing."""
    if not outputs:
        return 0
    shared = {id(t.untyped_storage()) for t in arguments}
    fresh = {}
    for t in outputs:
        storage = t.untyped_storage()
        if id(storage) not in shared:
            fresh[id(storage)] = storage.nbytes()
    in_place = sum(t.numel() * t.element_size() for t in outputs if id(t.untyped_storage()) in shared) \
        if func_packet.__name__.endswith("_") or "out" in kwargs else 0
    return sum(fresh.values()) + in_place


@functools.cache
def _is_view_op(func_packet) -> bool:
    """An op whose schema says it returns an alias it does not write: a view, no arithmetic."""
    for overload in func_packet.overloads():
        returns = getattr(func_packet, overload)._schema.returns
        if returns and all(r.alias_info is not None and not r.alias_info.is_write for r in returns):
            return True
    return False
