"""The `facelens` command line: one module per command group."""

from __future__ import annotations

import typer

from facelens.cli import bench, evaluate, faces

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Explainable face analysis from the command line.",
)
faces.register(app)
bench.register(app)
app.add_typer(evaluate.app, name="eval")


def main() -> None:
    app()
