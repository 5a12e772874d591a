"""The `facelens` command line: one module per command group."""

from __future__ import annotations

import typer

from facelens.cli import (
    attributes,
    bench,
    evaluate,
    explain,
    faces,
    find,
    gallery,
    liveness,
    pairs,
    quality,
    represent,
    serve,
    train,
    video,
)
from facelens.cli.output import ReportingGroup

app = typer.Typer(
    cls=ReportingGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Explainable face analysis from the command line.",
)


def _print_version(value: bool) -> None:
    if value:
        from facelens import __version__

        typer.echo(f"facelens {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version.",
        metavar="",
    ),
) -> None:
    """Explainable face analysis from the command line."""


faces.register(app)
app.command()(represent.represent)
app.command()(find.find)
app.command("verify-pairs")(pairs.verify_pairs)
bench.register(app)
serve.register(app)
video.register(app)
video.register_eval(evaluate.app)
liveness.register(app)
liveness.register_eval(evaluate.app)
attributes.register(app)
attributes.register_eval(evaluate.app)
explain.register(app)
explain.register_eval(evaluate.app)
quality.register(app)
quality.register_eval(evaluate.app)
app.add_typer(evaluate.app, name="eval")
app.add_typer(gallery.app, name="gallery")
app.add_typer(train.app, name="train")


def main() -> None:
    app()
