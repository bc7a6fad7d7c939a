"""Placeholder: the owner of this command group replaces it."""
import typer


def register(app: typer.Typer) -> None:
    pass
