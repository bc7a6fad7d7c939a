"""Count the MACs of one forward (and backward) pass twice, by two independent methods, and say
where they go and what was left out.

Primary: :class:`~pacabench.measure.cost_counter.CostCounter`, ``FlopCounterMode`` at dispatch
level with pacabench's formulas. It splits every MAC by op class (mixing / dense / other) and by
module, and counts the backward pass as autograd runs it. It counts what fvcore counts (products,
and norms / pooling / upsampling in fvcore's per-element conventions), so ``gmacs`` is comparable with
the published tables, which fvcore made.

Cross-check: fvcore's ``FlopCountAnalysis`` (JIT trace) with pacabench's handles for attention and
``padding='same'`` convolutions. The two are compared on the same op set, the products (everything
but the per-element conventions): ``agree`` means they found exactly the same number of product
MACs. fvcore's own total is kept as ``fvcore_macs``.

The primary counter also counts the bytes each op writes, by the same classes and modules
(:mod:`~pacabench.measure.cost_counter`). Attention runs as the kernel of ``kernels``' device
(:class:`~pacabench.measure.attention_kernels.DeviceAttention`; CPU by default): its MACs are the
same on every kernel, the bytes it writes are not (a fused kernel writes no N x N matrix).

Both run on whatever device the module and inputs are on; on ``meta`` nothing is allocated or
computed, so any resolution is counted in well under a second.
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch
from fvcore.nn import FlopCountAnalysis

from pacabench.measure.attention_kernels import DeviceAttention
from pacabench.measure.cost_counter import OP_CLASSES, ROOT, CostCounter
from pacabench.measure.flop_handles import FVCORE_HANDLES, FVCORE_NON_PRODUCT_OPS
from pacabench.measure.meta_trace import MetaTraceMode

MODULE_DEPTH = 5
"""Module paths deeper than this (``stages.0.blocks.1.attn`` is depth 5) are left out of
:meth:`FlopCount.module_macs`: enough to reach every attention of the zoo and its peers."""


@dataclass(frozen=True)
class FlopCount:
    """MACs of one forward pass over the whole batch (1 MAC = 1 FLOP, the paper convention)."""

    macs: int                                  # primary count (dispatch level)
    by_class: dict[str, int]                   # mixing / dense / other; they sum to ``macs``
    modules: dict[str, dict[str, int]]         # module path -> {class: MACs}; "" = whole module
    fvcore_macs: int | None                    # cross-check total; None if fvcore could not run
    agree: bool                                # both counters found the same product MACs
    method: str                                # e.g. "FlopCounterMode+pacabench/meta"
    uncounted_ops: list[str]                   # ops that compute but carry no count (elementwise, ...)
    backward_macs: int | None = None           # the backward pass as autograd runs it, if asked
    bytes_by_class: dict[str, int] | None = None       # bytes the forward pass writes, by class
    bytes_modules: dict[str, dict[str, int]] | None = None  # module path -> {class: bytes written}

    @property
    def bytes_written(self) -> int | None:
        return None if self.bytes_by_class is None else sum(self.bytes_by_class.values())

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    @property
    def gmacs_fvcore(self) -> float | None:
        return None if self.fvcore_macs is None else self.fvcore_macs / 1e9

    def gmacs_of(self, op_class: str) -> float:
        return self.by_class[op_class] / 1e9

    def module_macs(self, depth: int = MODULE_DEPTH) -> dict[str, list[int]]:
        """``{path: [mixing, dense, other]}`` for the modules down to ``depth`` that count any MAC,
        in the model's order."""
        return _listed(self.modules, depth)

    def module_bytes(self, depth: int = MODULE_DEPTH) -> dict[str, list[int]]:
        """``{path: [mixing, dense, other]}`` bytes written, as :meth:`module_macs`."""
        return _listed(self.bytes_modules or {}, depth)


def _listed(modules: dict[str, dict[str, int]], depth: int) -> dict[str, list[int]]:
    return {path: [values[c] for c in OP_CLASSES] for path, values in modules.items()
            if path != ROOT and path.count(".") < depth and any(values.values())}


def count_params(module: torch.nn.Module) -> int:
    """Number of parameters (works on meta modules)."""
    return sum(p.numel() for p in module.parameters())


def params_by_part(module: torch.nn.Module) -> dict[str, int]:
    """Parameters of each top-level child (the parts: stages, or backbone / neck / heads), plus
    ``(self)`` for parameters held by the module itself (e.g. a ViT's position embedding)."""
    parts = {name: count_params(child) for name, child in module.named_children()}
    own = sum(p.numel() for p in module.parameters(recurse=False))
    if own:
        parts["(self)"] = own
    return {name: count for name, count in parts.items() if count}


def _meta_mode(inputs: tuple):
    """:class:`MetaTraceMode` when counting on meta tensors; nothing on a real device."""
    on_meta = any(isinstance(t, torch.Tensor) and t.is_meta for t in inputs)
    return MetaTraceMode() if on_meta else contextlib.nullcontext()


def fvcore_count(module: torch.nn.Module, inputs: tuple) -> tuple[int, int]:
    """(all MACs, product MACs) by fvcore + pacabench handles."""
    analysis = FlopCountAnalysis(module, inputs).set_op_handle(**FVCORE_HANDLES)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    with warnings.catch_warnings(), _meta_mode(inputs), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings about shapes are expected and harmless
        by_operator = analysis.by_operator()
    total = sum(by_operator.values())
    products = sum(v for op, v in by_operator.items() if op not in FVCORE_NON_PRODUCT_OPS)
    return total, products


@contextlib.contextmanager
def training(module: torch.nn.Module):
    """``module`` in train mode for the block, every submodule's own mode restored after."""
    modes = [(m, m.training) for m in module.modules()]
    module.train()
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode


def count_forward(module: torch.nn.Module, inputs: tuple, kernels: str = "cpu") -> CostCounter:
    """One forward pass ``module(*inputs)`` under the primary counter (no autograd graph), in the
    module's own mode, attention run as ``kernels``' device runs it."""
    counter = CostCounter(inputs, root=module)
    with torch.no_grad(), _device_attention(inputs, kernels), _meta_mode(inputs), counter:
        module(*inputs)
    return counter


def _device_attention(inputs: tuple, kernels: str):
    """On meta tensors, attention runs as ``kernels``' device would run it (:class:`DeviceAttention`);
    real tensors already run their device's kernels, and their fused fast paths
    (``nn.MultiheadAttention`` in eval), which any active function mode would turn off."""
    on_meta = any(isinstance(t, torch.Tensor) and t.is_meta for t in inputs)
    return DeviceAttention(kernels) if on_meta else contextlib.nullcontext()


def count_backward(module: torch.nn.Module, inputs: tuple, kernels: str = "cpu") -> int:
    """MACs of the backward pass of a training step as autograd runs it (module in train mode, loss
    = sum of the floating outputs; the loss itself costs no MACs). The forward pass is not counted."""
    try:
        with training(module), _device_attention(inputs, kernels), _meta_mode(inputs):
            with torch.enable_grad():
                outputs = [t for t in _flat_tensors(module(*inputs)) if t.requires_grad]
            if not outputs:
                return 0
            loss = sum(t.sum() for t in outputs)
            counter = CostCounter()
            with counter:
                loss.backward()
        return sum(counter.by_class.values())
    finally:
        for parameter in module.parameters():
            parameter.grad = None


def _flat_tensors(output) -> list[torch.Tensor]:
    from pacabench.measure.torch_compat import tree_flatten

    return [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]


def _with_containers(module: torch.nn.Module, modules: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """``modules`` plus the modules whose forward never ran (a ``ModuleList`` of blocks, a block
    whose parent calls its parts directly): each gets the sum of its children's MACs (or bytes). In the
    model's own order (``named_modules``), root first."""
    out = dict(modules)

    def fill(path: str, node: torch.nn.Module) -> dict[str, int] | None:
        children = [fill(f"{path}.{name}" if path else name, child) for name, child in node.named_children()]
        if path not in out:
            children = [c for c in children if c is not None]
            if not children:
                return None
            out[path] = {op_class: sum(c[op_class] for c in children) for op_class in OP_CLASSES}
        return out[path]

    fill(ROOT, module)
    order = [path for path, _ in module.named_modules() if path in out]
    return {path: out[path] for path in order}


def count_flops(module: torch.nn.Module, inputs: tuple, *, crosscheck: bool = True,
                backward: bool = False, kernels: str = "cpu") -> FlopCount:
    """Count one forward pass of ``module(*inputs)`` (see the module docstring) in the module's own
    mode (built targets are in eval mode: inference); ``crosscheck`` also runs fvcore. ``backward``
    counts a training step: its forward in train mode (batch norm on batch statistics, training-only
    heads, ``nn.MultiheadAttention``'s slow path) and its backward pass. ``kernels``: the device whose
    attention kernels run."""
    device = next((t.device.type for t in inputs if isinstance(t, torch.Tensor)), "cpu")
    with training(module) if backward else contextlib.nullcontext():
        counter = count_forward(module, inputs, kernels)
        by_class = counter.by_class
        macs = sum(by_class.values())
        fvcore_macs = agree = None
        if crosscheck:
            try:
                fvcore_macs, fvcore_products = fvcore_count(module, inputs)
                agree = fvcore_products == by_class["mixing"] + by_class["dense"]
            except Exception:  # the cross-check is optional; the primary count stands alone
                fvcore_macs = None
    return FlopCount(
        macs=macs, by_class=by_class, modules=_with_containers(module, counter.module_macs),
        fvcore_macs=fvcore_macs,
        agree=bool(agree), method=f"FlopCounterMode+pacabench/{device}",
        uncounted_ops=sorted(counter.uncounted),
        backward_macs=count_backward(module, inputs, kernels) if backward else None,
        bytes_by_class=counter.bytes_by_class, bytes_modules=_with_containers(module, counter.module_bytes),
    )
