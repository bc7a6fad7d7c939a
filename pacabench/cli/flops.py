"""`pacabench flops`: parameters and GMACs of one target at one size, counted on the meta device."""
import json

import typer

from pacabench.cli.errors import fail, require_positive

HELP = """Count parameters and GMACs of one forward pass of NAME at one input size.

GMACs follow the paper convention: 1 multiply-accumulate = 1 FLOP. The count is fvcore with pacabench's attention handles, cross-checked by torch's FlopCounterMode (divided by 2); it runs on the meta device, so any resolution is counted in about a second without allocating memory.

NAME is a PaCa-ViT zoo model, any timm model, or an operator op:NAME?key=value (see `pacabench list`).

Examples:

  pacabench flops pacavit_tiny_p2cconv_100_0 --resolution 224

  pacabench flops vit_small_patch16_224 --resolution 4096 --json

  pacabench flops 'op:paca?clusters=49' --size 896x1344 --batch 2
"""


def _parse_size(size: str) -> tuple[int, int]:
    from pacabench.runner.suite import parse_hw

    try:
        return parse_hw(size)
    except ValueError:
        raise fail(f"--size: {size!r} is not HxW; write e.g. --size 896x1344") from None


def count(spec: str, kind: str, name: str, target_params: dict, height: int, width: int,
          batch: int) -> dict:
    """The `flops --json` object for a parsed target at ``height`` x ``width``; raises TargetError."""
    from pacabench.measure.flops import count_flops, count_params
    from pacabench.targets import build_target

    built = build_target(kind, name, target_params, height, width, batch, device="meta")
    flops = count_flops(built.module, built.inputs)
    return {
        "name": spec, "kind": kind, "target_params": target_params, "resolution": [height, width],
        "batch": batch, "tokens": built.tokens, "params": count_params(built.module),
        "gmacs": flops.gmacs, "gmacs_flopcounter": flops.gmacs_flopcounter,
        "flops_agree": flops.agree, "method": flops.method, "uncounted_ops": flops.uncounted_ops,
    }


def _print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    fc = result["gmacs_flopcounter"]
    table = Table(title=f"{result['name']} at {result['resolution'][0]}x{result['resolution'][1]}, "
                        f"batch {result['batch']}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in (
        ("parameters", f"{result['params'] / 1e6:.3f} M"),
        ("GMACs (1 MAC = 1 FLOP)", f"{result['gmacs']:.4f}"),
        ("cross-check: FlopCounterMode / 2", "—" if fc is None else f"{fc:.4f}"),
        ("counts agree within 1%", "yes" if result["flops_agree"] else "NO"),
        ("tokens at first attention stage", str(result["tokens"])),
        ("method", result["method"]),
        ("not counted (no MACs)", ", ".join(result["uncounted_ops"]) or "—"),
    ):
        table.add_row(label, value)
    Console().print(table)


def flops(
    name: str = typer.Argument(..., help="Zoo model, timm model or op:NAME?key=value."),
    resolution: int = typer.Option(224, "--resolution", "-r", help="Square input size R x R."),
    size: str | None = typer.Option(None, "--size", help="Input size HxW; overrides --resolution."),
    batch: int = typer.Option(1, "--batch", "-b", help="Images per forward pass."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    from pacabench.targets import TargetError, parse_target

    require_positive("--batch", batch)
    if size is None:
        require_positive("--resolution", resolution)
    height, width = _parse_size(size) if size else (resolution, resolution)
    try:
        target = parse_target(name)
    except TargetError as error:
        raise fail(f"NAME: {error}") from None
    try:
        result = count(name, *target, height, width, batch)
    except TargetError as error:
        raise fail(f"target: {error}") from None
    if as_json:
        typer.echo(json.dumps(result))
    else:
        _print_table(result)


def register(app: typer.Typer) -> None:
    app.command("flops", help=HELP)(flops)
