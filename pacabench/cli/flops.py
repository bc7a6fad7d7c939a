"""`pacabench flops`: parameters and GMACs of one target at one size, counted on the meta device,
with where the MACs and the bytes written go (op class, and module by module with ``--breakdown``)."""
from __future__ import annotations

import json

import typer

from pacabench.cli.errors import fail, require_positive

HELP = """Count parameters and GMACs of one forward pass of NAME at one input size, and say where they go.

GMACs follow the paper convention: 1 multiply-accumulate = 1 FLOP. Bytes written: the storage each op's fresh outputs take (in-place ops: what they overwrite), attention as CPU's kernel runs it; products write in their MACs' class, every other op (elementwise, softmax, masks, copies, norms) in "other". Every MAC is classed: mixing (a product of two activations: attention), dense (weights times activations: linear, conv) or other (norms, pooling, upsampling, in fvcore's per-element conventions). The count is torch's FlopCounterMode at dispatch level with pacabench's formulas, cross-checked by fvcore with pacabench's attention handles (the two must find the same product MACs); it runs on the meta device, so any resolution is counted in about a second without allocating memory. The forward is counted as inference runs it (eval mode, no autograd); --train counts a training step.

NAME is a PaCa-ViT zoo model, any timm model, a segmentor seg:<zoo variant>, or an operator op:NAME?key=value (see `pacabench list`).

Examples:

  pacabench flops pacavit_tiny_p2cconv_100_0 --resolution 224

  pacabench flops pacavit_tiny_p2cconv_100_0 --resolution 1344 --breakdown --depth 2

  pacabench flops vit_small_patch16_224 --resolution 4096 --json

  pacabench flops 'op:paca?clusters=49' --size 896x1344 --batch 2 --train
"""


def parse_size(size: str) -> tuple[int, int]:
    """``--size HxW`` as (height, width), or the one-line error."""
    from pacabench.runner.suite import parse_hw

    try:
        height, width = parse_hw(size)
    except ValueError:
        raise fail(f"--size: {size!r} is not HxW; write e.g. --size 896x1344") from None
    for side in (height, width):
        require_positive("--size", side)
    return height, width


def parse_name(name: str) -> tuple[str, str, dict]:
    """A target spec as (kind, name, params), or the one-line error."""
    from pacabench.targets import TargetError, parse_target

    try:
        return parse_target(name)
    except TargetError as error:
        raise fail(f"NAME: {error}") from None


def count(spec: str, kind: str, name: str, target_params: dict, height: int, width: int,
          batch: int, *, train: bool = False, depth: int | None = None) -> dict:
    """The `flops --json` object for a parsed target at ``height`` x ``width``; with ``depth`` it
    carries ``breakdown``, the module tree to that depth. Raises TargetError."""
    from pacabench.measure.counts import count_target

    counted = count_target(kind, name, target_params, height, width, batch, backward=train)
    result = {"name": spec, "kind": kind, "target_params": target_params, "resolution": [height, width],
              "batch": batch, **counted.row()}
    del result["module_macs"], result["module_bytes"]
    if depth is not None:
        result["breakdown"] = breakdown(counted, depth)
    return result


def breakdown(counted, depth: int) -> list[dict]:
    """The module tree down to ``depth`` in definition order, each module with its parameters and
    MACs by class: the root first (``module`` ""), children after their parent."""
    from pacabench.measure.cost_counter import OP_CLASSES

    modules, written = counted.flops.modules, counted.flops.bytes_modules
    rows = []
    for path, module in counted.built.module.named_modules():
        level = path.count(".") + 1 if path else 0
        macs = modules.get(path, dict.fromkeys(OP_CLASSES, 0))
        nbytes = written.get(path, dict.fromkeys(OP_CLASSES, 0))
        params = sum(p.numel() for p in module.parameters())
        if level > depth or not (params or any(macs.values()) or any(nbytes.values())):
            continue
        rows.append({"module": path, "depth": level, "params": params,
                     "gmacs": sum(macs.values()) / 1e9,
                     **{f"gmacs_{op_class}": macs[op_class] / 1e9 for op_class in OP_CLASSES},
                     "bytes_written": sum(nbytes.values()),
                     **{f"bytes_written_{op_class}": nbytes[op_class] for op_class in OP_CLASSES}})
    return rows


def _print_summary(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['name']} at {result['resolution'][0]}x{result['resolution'][1]}, "
                        f"batch {result['batch']}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    fvcore = result["gmacs_fvcore"]
    rows = [
        ("parameters", f"{result['params'] / 1e6:.3f} M"),
        ("GMACs (1 MAC = 1 FLOP)", f"{result['gmacs']:.4f}"),
        ("  mixing (activation x activation)", f"{result['gmacs_mixing']:.4f}"),
        ("  dense (weights x activations)", f"{result['gmacs_dense']:.4f}"),
        ("  other (norms, pooling, upsampling)", f"{result['gmacs_other']:.4f}"),
    ]
    rows.append(("MB written (mix / dense / other)", f"{result['bytes_written'] / 2**20:,.1f} (" + " / ".join(
        f"{result[f'bytes_written_{op_class}'] / 2**20:,.1f}" for op_class in ("mixing", "dense", "other")) + ")"))
    if result["gmacs_backward"] is not None:
        rows.append(("backward pass GMACs (training step)", f"{result['gmacs_backward']:.4f}"))
    rows += [
        ("cross-check: fvcore + handles", "—" if fvcore is None else f"{fvcore:.4f}"),
        ("same product MACs in both counters", "yes" if result["flops_agree"] else "NO"),
        ("tokens at first attention stage", str(result["tokens"])),
        ("method", result["flops_method"]),
        ("not counted (no MACs)", ", ".join(result["uncounted_ops"]) or "—"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)


def _print_breakdown(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    total = result["gmacs"] or 1.0
    table = Table(title=f"{result['name']} at {result['resolution'][0]}x{result['resolution'][1]}: "
                        "where the GMACs go")
    for column, justify in (("module", "left"), ("params", "right"), ("GMACs", "right"),
                            ("share", "right"), ("mixing", "right"), ("dense", "right"), ("other", "right"),
                            ("MB written", "right")):
        table.add_column(column, justify=justify, no_wrap=column == "module")
    for row in result["breakdown"]:
        name = row["module"].rsplit(".", 1)[-1] if row["module"] else result["name"]
        table.add_row("  " * row["depth"] + name, f"{row['params'] / 1e6:.3f}M", f"{row['gmacs']:.4f}",
                      f"{row['gmacs'] / total:.1%}", f"{row['gmacs_mixing']:.4f}",
                      f"{row['gmacs_dense']:.4f}", f"{row['gmacs_other']:.4f}",
                      f"{row['bytes_written'] / 2**20:,.1f}")
    console = Console()
    console.width = max(console.width, 112)
    console.print(table)


def flops(
    name: str = typer.Argument(..., help="Zoo model, timm model, seg:<zoo variant> or op:NAME?key=value."),
    resolution: int = typer.Option(224, "--resolution", "-r", help="Square input size R x R."),
    size: str | None = typer.Option(None, "--size", help="Input size HxW; overrides --resolution."),
    batch: int = typer.Option(1, "--batch", "-b", help="Images per forward pass."),
    breakdown_: bool = typer.Option(False, "--breakdown", help="Also print the module tree with each "
                                    "module's parameters and GMACs (mixing / dense / other)."),
    depth: int = typer.Option(3, "--depth", help="--breakdown: how many levels of modules to show."),
    train: bool = typer.Option(False, "--train", help="Count a training step: the forward in train mode "
                               "(not eval: batch norm on batch statistics, training-only heads) and the backward pass."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (with --breakdown: a "
                                 "'breakdown' list of modules)."),
) -> None:
    require_positive("--batch", batch)
    require_positive("--depth", depth)
    if size is None:
        require_positive("--resolution", resolution)
    height, width = parse_size(size) if size else (resolution, resolution)
    from pacabench.targets import TargetError, TooLargeError  # after the argument checks: they answer without torch

    target = parse_name(name)
    try:
        result = count(name, *target, height, width, batch, train=train,
                       depth=depth if breakdown_ else None)
    except TooLargeError as error:
        raise fail(f"{'--size' if size else '--resolution'}, --batch: {error}") from None
    except TargetError as error:
        raise fail(f"target: {error}") from None
    if as_json:
        typer.echo(json.dumps(result))
        return
    _print_summary(result)
    if breakdown_:
        _print_breakdown(result)


def register(app: typer.Typer) -> None:
    app.command("flops", help=HELP)(flops)
