"""Let the JIT tracer (and so fvcore) trace a model whose weights and inputs live on ``meta``.

Tracing on the meta device gives the same graph as on CPU without allocating or computing
anything, so ViT at 4096 px is counted in a fraction of a second. Two things break it in
torch 2.14, and :class:`MetaTraceMode` repairs both:

- ops the tracer does not record at their own level (``aten::convolution``, reached from
  ``conv2d``) dispatch to Python meta kernels while tracing is on, and those kernels read shapes
  as traced tensors and fail. The mode runs such an op on a helper thread, where no trace is active;
- on CPU ``convolution`` reaches ``aten::_convolution``, which the tracer records; the meta kernel
  stops one level earlier, so the mode records the ``aten::_convolution`` node itself.

It also makes meta execution fast: many meta kernels are Python reference implementations (a layer
norm's costs milliseconds), and a backbone repeats the same op on the same shapes in every block, so
the mode memoises the output layout of functional ops (keyed on the op and every argument's shape,
stride and dtype), much as FakeTensorMode's dispatch cache does. A meta kernel is a pure function
of those layouts, so one memo serves every count in the process (both counters, every size), traced
or not: the traced path looks it up on the helper thread.
"""
from concurrent.futures import ThreadPoolExecutor

import torch

from pacabench.measure.torch_compat import TorchDispatchMode, set_value_trace, tracing_state, value_trace

_UNTRACED_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pacabench-meta")
_LAYOUTS: dict = {}  # (op, argument layouts) -> (returns a tuple, output layouts); see the docstring
_MAX_LAYOUTS = 200_000  # a few hundred bytes each: cleared when full rather than grown without bound


def _run_meta(func, args, kwargs):
    """Run a meta kernel, or rebuild its outputs from the memo of an earlier identical call."""
    if not _cacheable(func):
        return func(*args, **kwargs)
    key = (func, _layout_key(args), _layout_key(tuple(sorted(kwargs.items()))))
    hit = _LAYOUTS.get(key)
    if hit is _ALIASES:
        return func(*args, **kwargs)
    if hit is None:
        out = func(*args, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        if all(isinstance(t, torch.Tensor) for t in outs):  # backward ops may return None grads
            if len(_LAYOUTS) >= _MAX_LAYOUTS:
                _LAYOUTS.clear()
            _LAYOUTS[key] = _ALIASES if _aliases(args, outs) else (
                isinstance(out, tuple), [(t.shape, t.stride(), t.dtype) for t in outs])
        return out
    is_tuple, layouts = hit
    outs = tuple(torch.empty_strided(shape, stride, dtype=dtype, device="meta") for shape, stride, dtype in layouts)
    return outs if is_tuple else outs[0]


_ALIASES = object()
"""Memo entry of an op whose output shares an argument's storage though its schema says it is
fresh (``_unsafe_view``): it is always run, so storage-level counts (bytes written) see the alias."""


def _aliases(args, outs) -> bool:
    inputs = {id(a.untyped_storage()) for a in args if isinstance(a, torch.Tensor)}
    return any(id(t.untyped_storage()) in inputs for t in outs)


def _run_untraced(func, args, kwargs):
    with torch.no_grad():
        return _run_meta(func, args, kwargs)


def _record_convolution(state, args, out: torch.Tensor) -> None:
    """Add the ``aten::_convolution`` node the CPU trace would have, wired to the traced values."""
    graph = state.graph()
    x, w, b, stride, padding, dilation, transposed, output_padding, groups = args
    values = [value_trace(x), value_trace(w), value_trace(b) if b is not None else graph.insertConstant(None)]
    # benchmark, deterministic, cudnn_enabled, allow_tf32: as F.conv2d passes them on CPU.
    for const in (stride, padding, dilation, transposed, output_padding, groups, False, False, True, True):
        values.append(graph.insertConstant(const))
    node = graph.create("aten::_convolution", values, 1)
    graph.insertNode(node)
    node.output().setType(torch.TensorType.create_from_tensor(out))
    set_value_trace(out, node.output())


def _cacheable(func) -> bool:
    """Functional ops returning fresh tensors only: new empty tensors of the same layout are exact."""
    returns = func._schema.returns
    return (len(returns) > 0 and not func._schema.is_mutable
            and all(r.alias_info is None and isinstance(r.type, torch.TensorType) for r in returns))


def _layout_key(value):
    if isinstance(value, torch.Tensor):
        return (value.shape, value.stride(), value.dtype, value.device.type)
    if isinstance(value, (list, tuple)):
        return tuple(map(_layout_key, value))
    if isinstance(value, (int, float, bool, str, type(None), torch.dtype)):
        return value
    return type(value).__name__, repr(value)  # devices, memory formats, layouts


class MetaTraceMode(TorchDispatchMode):
    """Active around ``torch.jit`` tracing or FLOP counting of a meta-device model (module docstring)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        on_meta = any(isinstance(a, torch.Tensor) and a.is_meta for a in args)
        state = tracing_state()
        if not on_meta:
            return func(*args, **kwargs)
        if state is None:
            return _run_meta(func, args, kwargs)
        out = _UNTRACED_POOL.submit(_run_untraced, func, args, kwargs).result()
        if func is torch.ops.aten.convolution.default:
            _record_convolution(state, args, out)
        return out
