"""Shared CLI output: JSON in the same shape as the Python objects, or a readable table."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from facelens.detection.names import DEFAULT_DETECTOR, DETECTORS
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import os_problem
from facelens.recognition.names import DEFAULT_EMBEDDER, EMBEDDER_NAMES

console = Console()
errors = Console(stderr=True)


def emit_json(value: BaseModel | dict | list) -> None:
    if isinstance(value, BaseModel):
        sys.stdout.write(value.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(json.dumps(_plain(value), indent=2) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def report_error(error: FaceLensError, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": error.to_dict()}) + "\n")
    else:
        errors.print(f"[red]error[/red] ({error.code.value}): {escape(error.message)}")


@contextmanager
def reporting_errors(as_json: bool) -> Iterator[None]:
    """Turn a FaceLensError into a clear message (or JSON error) and exit code 2."""
    try:
        yield
    except FaceLensError as error:
        report_error(error, as_json)
        raise typer.Exit(2) from None


class ReportingGroup(TyperGroup):
    """The root command: a FaceLensError that a command did not report itself, or an OSError
    it did not turn into one (a path the operating system refuses outright, such as a name too
    long for the file system, met by a command's own existence check), is reported like any
    error (`bad_argument` for the OSError), exit code 2, never a traceback."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **options: Any) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        try:
            return super().main(args, *rest, **options)
        except FaceLensError as error:
            report_error(error, "--json" in words)
        except OSError as error:
            reason = error.strerror or str(error)
            message = reason if error.filename is None else os_problem(error.filename, error)
            report_error(FaceLensError(ErrorCode.BAD_ARGUMENT, message), "--json" in words)
        sys.exit(2)


JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.", metavar="")


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check(name: str) -> str:
        if name not in choices:
            raise typer.BadParameter(f"choose one of {', '.join(choices)}")
        return name

    return check


EmbedderOption = typer.Option(
    DEFAULT_EMBEDDER,
    callback=one_of(EMBEDDER_NAMES),
    help=f"Recognition embedder: {', '.join(EMBEDDER_NAMES)}.",
)
DetectorOption = typer.Option(
    DEFAULT_DETECTOR,
    callback=one_of(DETECTORS),
    help=f"Face detector: {' or '.join(DETECTORS)}.",
)
Command = Callable[..., None]
