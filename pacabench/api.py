"""pacabench from Python: count a module, fit its cost model over input sizes, run a suite.

A target is what the command line takes (``"op:vit"``, ``"pacavit_tiny_p2cconv_100_0"``,
``"py:my_attention:make"``) or a factory with the ``py:`` contract passed directly (a lambda or a
local function works): ``factory(height, width, batch, **params)`` returns a module,
``(module, inputs)`` or ``(module, inputs, tokens)`` (:mod:`pacabench.user_targets`). Counting runs
on the meta device: nothing is allocated, and any size takes about a second::

    from pacabench import api
    from examples.my_attention import make                # a factory: make(height, width, batch, **params)

    counted = api.count(make, 224)                        # .gmacs, .gmacs_mixing, .params, .modules ...
    model = api.cost_model(make)                          # .verdict "quadratic", .reason, .c2, .quadratic_modules
    api.cost_model(make, pool=7).verdict                  # "linear": keys pooled to 7 x 7
    api.cost_model("op:vit", resolutions=(224, 448, 672, 896))
    results = api.run_suite("ci_smoke", out="/tmp/smoke")   # a pandas DataFrame, one row per cell
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

Target = str | Callable[..., object]
Size = int | tuple[int, int]


@dataclass(frozen=True)
class Count:
    """Parameters and MACs of one forward pass (GMACs: 1 MAC = 1 FLOP) of a target at one size."""

    target: str
    height: int
    width: int
    batch: int
    tokens: int                            # at the first attention stage
    params: int
    gmacs: float
    gmacs_mixing: float                    # products of two activations: attention
    gmacs_dense: float                     # weights times activations
    gmacs_other: float                     # norms, pooling, upsampling
    gmacs_backward: float | None           # the backward pass, when counted (train=True)
    gmacs_fvcore: float | None             # the cross-check's total (crosscheck=True)
    flops_agree: bool | None               # both counters found the same product MACs
    modules: dict[str, dict[str, float]]   # module path -> {"mixing", "dense", "other"} GMACs


@dataclass(frozen=True)
class Scaling:
    """How a target's GMACs grow with the number of tokens N: ``c0 + c1*N + c2*N**2`` (GMACs, per
    token, per token^2), fitted exactly on its counts (the verdict of ``pacabench scaling``)."""

    target: str
    verdict: str                           # linear | quadratic | inconclusive
    reason: str                            # the verdict in one sentence
    c0: float
    c1: float
    c2: float
    quadratic_share: dict[str, float]      # resolution -> the N^2 term's share of GMACs there
    dominance_resolution: float | None     # px (side of a square input) where N^2 passes the rest
    quadratic_modules: str                 # where the N^2 term lives, e.g. "stage4.[0-1].attn"
    mixing_verdict: str                    # the same verdict on the mixing GMACs alone
    counts: pd.DataFrame                   # one row per size: tokens, gmacs, gmacs_mixing, ...
    table: pd.DataFrame                    # scaling.csv's rows (GMACs, mixing GMACs, bytes written, peak)


def _size(resolution: Size) -> tuple[int, int]:
    """224 or (height, width) as (height, width); TargetError (one line) for anything else."""
    from pacabench.targets import TargetError

    pair = (resolution, resolution) if not isinstance(resolution, (tuple, list)) else tuple(resolution)
    if len(pair) != 2 or not all(isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in pair):
        raise TargetError(f"resolution: {resolution!r} is not a size; pass pixels as a positive integer (224) "
                          f"or a pair of them (height, width)")
    return pair


def _counter(target: Target, params: dict, batch: int):
    """(label, kind, name, params, count_at(height, width, **flags)) for a spec or a factory."""
    from pacabench import user_targets
    from pacabench.measure.counts import count_built, count_target
    from pacabench.targets import Built, TargetError, parse_target

    if isinstance(target, str):
        kind, name, parsed = parse_target(target)
        merged = {**parsed, **params}
        return target, kind, name, merged, lambda h, w, **flags: count_target(kind, name, merged, h, w, batch, **flags)
    label = f"{user_targets.PY_PREFIX}{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', target)}"

    def count_at(height: int, width: int, **flags):
        import torch

        try:
            built = Built(*user_targets.build(target, label, params, height, width, batch, device="meta",
                                              dtype=torch.float32))
        except user_targets.UserTargetError as error:  # as for a py: target named by a string
            raise TargetError(str(error)) from None
        return count_built(built, user_code=label, **flags)

    return label, user_targets.KIND, label.removeprefix(user_targets.PY_PREFIX), params, count_at


def count(target: Target, resolution: Size = 224, *, batch: int = 1, train: bool = False,
          crosscheck: bool = False, **params) -> Count:
    """Count ``target`` at ``resolution`` (224 or (height, width)) as inference runs it: eval mode, no
    autograd. ``train`` counts a training step instead: the forward in train mode (batch norm on batch
    statistics, training-only heads) and the backward pass; ``crosscheck`` also runs fvcore. Raises
    ``pacabench.targets.TargetError`` (one line)."""
    height, width = _size(resolution)
    label, _, _, _, count_at = _counter(target, params, batch)
    counted = count_at(height, width, crosscheck=crosscheck, backward=train)
    row = counted.row()
    modules = {path: {op_class: macs / 1e9 for op_class, macs in classes.items()}
               for path, classes in counted.flops.modules.items()}
    return Count(target=label, height=height, width=width, batch=batch, tokens=row["tokens"],
                 params=row["params"], gmacs=row["gmacs"], gmacs_mixing=row["gmacs_mixing"],
                 gmacs_dense=row["gmacs_dense"], gmacs_other=row["gmacs_other"],
                 gmacs_backward=row["gmacs_backward"], gmacs_fvcore=row["gmacs_fvcore"],
                 flops_agree=row["flops_agree"] if crosscheck else None, modules=modules)


def cost_model(target: Target, resolutions: Sequence[Size] | None = None, *, batch: int = 1,
               **params) -> Scaling:
    """Count ``target`` at each size (default: 224 to 4032 px, multiples of 224) and fit its exact
    cost model. Raises ``pacabench.targets.TargetError`` (one line)."""
    import json

    from pacabench.analysis.target_scaling import DEFAULT_RESOLUTIONS, count_rows, count_scaling

    if isinstance(resolutions, (str, bytes)):
        from pacabench.targets import TargetError

        raise TargetError(f"resolutions: {resolutions!r} is text; pass sizes, e.g. (224, 448, 672, 896)")
    sizes = [_size(r) for r in (resolutions or DEFAULT_RESOLUTIONS)]
    label, kind, name, merged, count_at = _counter(target, params, batch)
    rows = count_rows(lambda h, w: count_at(h, w, crosscheck=False), sizes, kind=kind, name=name,
                      params=merged, batch=batch, label=label)
    table = count_scaling(rows)
    by_metric = table.set_index("metric")
    gmacs = by_metric.loc["gmacs"]
    # no mixing MAC at any size (a CNN, a mask-only mixer): no row to fit, and nothing that grows
    mixing_verdict = by_metric.loc["gmacs_mixing", "verdict"] if "gmacs_mixing" in by_metric.index else "linear"
    side = gmacs["dominance_resolution"]
    return Scaling(
        target=label, verdict=gmacs["verdict"], reason=gmacs["reason"], c0=gmacs["c0"], c1=gmacs["c1"],
        c2=gmacs["c2"], quadratic_share=json.loads(gmacs["quadratic_share"]) if gmacs["quadratic_share"] else {},
        dominance_resolution=None if side != side else float(side), quadratic_modules=gmacs["quadratic_modules"],
        mixing_verdict=mixing_verdict,
        counts=rows[["resolution", "tokens", "params", "gmacs", "gmacs_mixing", "gmacs_dense", "gmacs_other"]],
        table=table)


def run_suite(suite: str | Path, out: str | Path | None = None, *, device: str | None = None,
              dtype: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Run a suite file (or the name of a shipped suite) into ``out`` (default: results/<time>_<suite>)
    and return its results, one labelled row per cell; ``pacabench report OUT`` renders them.
    Raises ``pacabench.runner.suite.SuiteError`` (one line per problem) for an unusable suite, device or
    dtype."""
    from pacabench.analysis.results import load_results
    from pacabench.runner.cells import missing_cuda
    from pacabench.runner.executor import make_executor
    from pacabench.runner.suite import SuiteError, find_suite, override_problem
    from pacabench.runner.sweep import default_run_dir, run_sweep

    problems = [problem for what, value in (("device", device), ("dtype", dtype)) if value is not None
                for problem in [override_problem(what, value)] if problem]
    if problems:
        raise SuiteError(problems)
    loaded = find_suite(suite)
    overrides = {key: [value] for key, value in (("devices", device), ("dtypes", dtype)) if value}
    if overrides:
        loaded = loaded.with_overrides(**overrides)
    if missing_cuda(loaded):
        raise SuiteError([f"{'device' if device else 'devices'}: cuda requested but no CUDA device is visible; "
                          f"use device='cpu' or 'auto'"])
    out_dir = Path(out) if out is not None else default_run_dir(loaded.name)
    run_sweep(loaded, out_dir, make_executor("local"), progress=progress, command=f"pacabench.api.run_suite({suite!r})")
    return load_results(out_dir)
