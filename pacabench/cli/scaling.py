"""`pacabench scaling`: the exact cost model of one target, counted on the meta device at several sizes."""
from __future__ import annotations

import json
import reprlib

import typer

from pacabench.cli.errors import MAX_DIMENSION, fail, require_positive
from pacabench.cli.flops import parse_name

HELP = """How the cost of NAME grows with the input: its exact cost model, the verdict and where the N² term lives.

NAME is counted on the meta device (nothing allocated) at each size, and its GMACs, the mixing GMACs alone (products of two activations: attention), the bytes its ops write and the peak memory of a forward pass (live tensors, CPU's attention kernels) are each fitted exactly as c0 + c1·N + c2·N², N = tokens at the first attention stage. Quadratic when c2 > 0, linear when c2 = 0; every size beyond the third checks the model. The modules whose own counts carry c2 are named, with the N² term's share of the GMACs at every size and the resolution from which it is more than the rest.

Examples:

  pacabench scaling pacavit_tiny_p2cconv_100_0

  pacabench scaling deit_small_patch16_224 --resolutions 224,448,896,1792 --json

  pacabench scaling 'op:pvt?sr_ratio=4'
"""


def parse_resolutions(text: str) -> list[tuple[int, int]]:
    """``224,448,800x1280`` -> sizes; the one-line error otherwise."""
    from pacabench.runner.suite import parse_hw

    sizes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            sizes.append((int(item), int(item)) if item.isdigit() else parse_hw(item))
        except ValueError:
            raise fail(f"--resolutions: {item!r} is not a size; write e.g. --resolutions 224,448,896 "
                       f"or 800x1280,1600x2560") from None
        if min(sizes[-1]) < 1:
            raise fail(f"--resolutions: {item!r} is not a positive size")
        if max(sizes[-1]) > MAX_DIMENSION:
            raise fail(f"--resolutions: {reprlib.repr(item)} is more than a tensor dimension can be (2^63 - 1)")
    if len(set(sizes)) < 3:
        raise fail(f"--resolutions: {len(set(sizes))} distinct size(s); a cost model needs at least 3 "
                   f"(4 or more to check it)")
    return sorted(set(sizes), key=lambda hw: hw[0] * hw[1])


def _print(rows, table) -> None:
    from rich.console import Console
    from rich.table import Table

    from pacabench.analysis.results import METRICS
    from pacabench.analysis.scaling import NOUNS

    console = Console()
    console.width = max(console.width, 110)
    gmacs = table.set_index("metric").loc["gmacs"]
    console.print(f"[bold]{gmacs['label']}[/bold]: [bold]{gmacs['verdict']}[/bold]", highlight=False, soft_wrap=True)
    for _, row in table.iterrows():
        unit = METRICS[row["metric"]][1]
        console.print(f"  {NOUNS[row['metric']]}: {row['reason']}", highlight=False, markup=False, soft_wrap=True)
        console.print(f"    c0 = {row['c0']:.6g} {unit}, c1 = {row['c1']:.6g} {unit} per token, "
                      f"c2 = {row['c2']:.6g} {unit} per token² ({row['method']}, largest residual "
                      f"{row['max_residual']:.2g})", highlight=False, markup=False, soft_wrap=True)
    shares = json.loads(gmacs["quadratic_share"]) if gmacs["quadratic_share"] else {}
    sizes = Table(title="counted on the meta device (1 MAC = 1 FLOP; memory: CPU kernels, inference)")
    for column in ("size", "tokens", "GMACs", "mixing", "dense", "other", "N² share", "MB written",
                   "peak MB"):
        sizes.add_column(column, justify="right")
    for _, row in rows.iterrows():
        peak = row.get("peak_mem_predicted_mb")
        sizes.add_row(row["resolution"], f"{row['tokens']:,}", f"{row['gmacs']:.4f}", f"{row['gmacs_mixing']:.4f}",
                      f"{row['gmacs_dense']:.4f}", f"{row['gmacs_other']:.4f}",
                      f"{shares.get(row['resolution'], float('nan')):.2%}", f"{row['bytes_written'] / 2**20:,.1f}",
                      "—" if peak is None or peak != peak else f"{peak:,.1f}")
    console.print(sizes)


def scaling(
    name: str = typer.Argument(..., help="Zoo model, timm model, seg:<zoo variant> or op:NAME?key=value."),
    resolutions: str = typer.Option(",".join(map(str, (224, 448, 896, 1344, 2240, 4032))), "--resolutions",
                                    help="Sizes to count, comma-separated (R or HxW)."),
    batch: int = typer.Option(1, "--batch", "-b", help="Images per forward pass."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict rows (scaling.csv's fields) as JSON."),
) -> None:
    require_positive("--batch", batch)
    sizes = parse_resolutions(resolutions)
    from pacabench.analysis.target_scaling import count_rows, count_scaling  # after the argument checks
    from pacabench.measure.counts import count_target
    from pacabench.targets import TargetError, TooLargeError

    kind, target, params = parse_name(name)
    try:
        rows = count_rows(lambda h, w: count_target(kind, target, params, h, w, batch, crosscheck=False), sizes,
                          kind=kind, name=target, params=params, batch=batch, label=name)
    except TooLargeError as error:
        raise fail(f"--resolutions, --batch: {error}") from None
    except TargetError as error:  # user code that cannot be built or counted, else a size the target cannot take
        raise fail(f"{'NAME' if kind == 'python' else '--resolutions'}: {error}") from None
    table = count_scaling(rows)
    if as_json:
        from pacabench.report.exact_json import dumps, records

        typer.echo(dumps(records(table)))
        return
    _print(rows, table)


def register(app: typer.Typer) -> None:
    app.command("scaling", help=HELP)(scaling)
