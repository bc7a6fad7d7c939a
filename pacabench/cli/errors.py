"""The one shape of every input error on the command line: ``error: <field>: <problem>; <fix>``
on stderr, exit code 2, never a traceback. The line is printable text: what it quotes from a file
cannot reach the terminal as an escape sequence."""
import typer

from pacabench.messages import printable

EXIT_BAD_INPUT = 2


def fail(message: str) -> typer.Exit:
    """Print ``message`` as one error line; ``raise fail(...)`` ends the command with exit 2."""
    typer.echo(f"error: {printable(message)}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


MAX_DIMENSION = 2 ** 63 - 1
"""The most a tensor dimension (an int64) can be."""


def require_positive(option: str, value: int) -> None:
    """Typer's own ``min=`` prints a multi-line usage box; pacabench keeps its one-line form. A
    value no tensor dimension can take is refused too (torch would fail in C++)."""
    if value < 1:
        raise fail(f"{option}: {value} is not a positive integer; use {option} 1 or more")
    if value > MAX_DIMENSION:
        raise fail(f"{option}: {value:.3g} is more than a tensor dimension can be (2^63 - 1); use a smaller {option}")
