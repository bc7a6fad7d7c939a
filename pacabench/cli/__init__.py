"""The ``pacabench`` command line: one Typer app, one module per command group."""
import typer

from pacabench.cli import catalog, flops, report, run, scaling

app = typer.Typer(
    name="pacabench",
    help="Measure FLOPs, parameters, memory and latency of PaCa, Swin, PVTv2 and ViT attention "
    "across resolutions, fit how they scale, and report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for _module in (run, flops, scaling, catalog, report):
    _module.register(app)


def main() -> None:
    app()
