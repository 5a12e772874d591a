"""Commands that take an image or a folder of images: listing, progress, per-image errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.progress import Progress

from facelens.cli.output import console
from facelens.errors import FaceLensError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".avif", ".gif", ".tif", ".tiff"}

# (image, error code, message) -> the row that stands for an image with nothing to report
Problem = Callable[[Path, str, str], dict]


def images_in(path: Path) -> list[Path]:
    """The folder's images (recursive, sorted), or the one path given."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return [path]


def rows_for_folder(
    images: list[Path], work: Callable[[Path], list[dict]], problem: Problem, as_json: bool
) -> list[dict]:
    """`work`'s rows for every image, with a progress bar; an image that fails (not an
    image, no face, ...) becomes one `problem` row instead of stopping the run or
    disappearing from the output."""
    rows: list[dict] = []
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("analysing", total=len(images))
        for image in images:
            try:
                rows += work(image) or [problem(image, "no_face", "no face was found")]
            except FaceLensError as error:
                rows.append(problem(image, error.code.value, error.message))
            progress.advance(task)
    return rows
