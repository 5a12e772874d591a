"""`facelens gallery ...`: enrol people and identify faces (1:N).

Names print as plain text (never Rich markup); one with characters a terminal cannot show
(stored before names were checked) prints escaped, and `--escaped` reads it back that way.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from facelens.cli.output import JsonOption, console, emit_json, one_of, reporting_errors
from facelens.errors import ErrorCode, FaceLensError
from facelens.gallery.names import escape_name, needs_escape, unescape_name
from facelens.recognition.names import DEFAULT_EMBEDDER, EMBEDDER_NAMES
from facelens.recognition.open_set import DEFAULT_OPEN_SET_POINT

app = typer.Typer(no_args_is_help=True, help="Enrol people and identify faces (1:N).")
DEFAULT_GALLERY = Path(os.environ.get("FACELENS_GALLERY", "~/.facelens/gallery")).expanduser()
GalleryOption = typer.Option(
    DEFAULT_GALLERY,
    "--gallery",
    "-g",
    help="Gallery directory, or milvus:FILE.db / http://host:19530 for Milvus "
    "(default $FACELENS_GALLERY or ~/.facelens/gallery).",
)

NewEmbedderOption = typer.Option(
    None,
    "--embedder",
    callback=lambda name: name and one_of(EMBEDDER_NAMES)(name),
    help=f"Embedder of a new gallery ({', '.join(EMBEDDER_NAMES)}; default "
    f"{DEFAULT_EMBEDDER}); an existing gallery keeps the one it records.",
)
EscapedOption = typer.Option(
    False,
    "--escaped",
    help="The name is written with \\xNN / \\uNNNN escapes, as `list` shows a name with"
    " characters a terminal cannot show (a NUL cannot be typed).",
    metavar="",
)


def _shown(name: str) -> Text:
    return Text(escape_name(name))


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _open(gallery: Path | str, create: bool = False, embedder: str | None = None):
    """The gallery; only enrolment and import may create one (a typo in --gallery must not
    silently answer from a new, empty gallery). It works with the embedder it records; a new
    one with `embedder` (default: the default embedder)."""
    from facelens.gallery.gallery import Gallery
    from facelens.lens import FaceLens

    where = str(gallery)
    local = "://" not in where and not where.startswith("milvus:")
    if not create and local and not Path(where).expanduser().exists():
        raise FaceLensError(
            ErrorCode.NOT_FOUND,
            f"no gallery at {where}: enrol someone first (facelens gallery enroll NAME PHOTO)"
            " or point --gallery / $FACELENS_GALLERY at an existing one",
        )
    return Gallery(gallery, lens=FaceLens(embedder=embedder) if embedder else None)


@app.command()
def enroll(
    name: str,
    images: list[Path] = typer.Argument(..., exists=True, dir_okay=False),
    gallery: str = GalleryOption,
    embedder: str | None = NewEmbedderOption,
    as_json: bool = JsonOption,
) -> None:
    """Enrol NAME from one or more photos (each quality-checked first). A name differing
    from an enrolled one only in case adds to that person."""
    with reporting_errors(as_json):
        result = _open(gallery, create=True, embedder=embedder).enroll(name, images)
    if as_json:
        emit_json(result)
        return
    _say(f"person: {escape_name(result.person)}")
    for item in result.images:
        _say(f"{item.source}: {item.status} {'; '.join(item.reasons)}")


@app.command("enroll-dir")
def enroll_dir(
    folder: Path,
    gallery: str = GalleryOption,
    embedder: str | None = NewEmbedderOption,
    as_json: bool = JsonOption,
) -> None:
    """Enrol a folder laid out as PERSON/*.jpg; re-running resumes where it stopped."""
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a directory", param_hint="FOLDER")
    total = sum(1 for p in folder.glob("*/*") if p.is_file())
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("enrolling", total=total)
        opened = _open(gallery, create=True, embedder=embedder)
        results = opened.enroll_dir(folder, lambda *_: progress.advance(task))
    counts: dict[str, int] = {}
    refused: list[dict] = []
    for enrollment in results:
        for item in enrollment.images:
            counts[item.status] = counts.get(item.status, 0) + 1
            if item.status in ("refused", "no_face", "other_person"):
                refused.append(
                    {
                        "person": enrollment.person,
                        "source": item.source,
                        "status": item.status,
                        "reasons": item.reasons,
                    }
                )
    summary = {"people": len(results), "counts": counts, "not_enrolled": refused}
    if as_json:
        emit_json(summary)
        return
    console.print(f"{len(results)} people: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for row in refused:
        _say(f"  {escape_name(row['source'])}: {row['status']} ({'; '.join(row['reasons'])})")


@app.command()
def search(
    image: Path,
    k: int = typer.Option(5, "--k", min=1),
    operating_point: str = typer.Option(
        DEFAULT_OPEN_SET_POINT,
        "--operating-point",
        help="fpir_1e-1, fpir_1e-2 or fpir_1e-3 (scale with the gallery), or a 1:1 point.",
    ),
    fuse: str = typer.Option("max", help="A person's score: max (best template) or mean."),
    gallery: str = GalleryOption,
    as_json: bool = JsonOption,
) -> None:
    """Who is this? Top-k people, or unknown when nobody clears the threshold."""
    with reporting_errors(as_json):
        result = _open(gallery).search(image, k, operating_point, fuse)  # type: ignore[arg-type]
    if as_json:
        emit_json(result.model_dump(mode="json", exclude={"face": {"embedding"}}))
        return
    identity = escape_name(result.identity) if result.identity else "unknown"
    _say(f"identity: {identity} (threshold {result.threshold:.3f}, status {result.status})")
    table = Table("rank", "person", "similarity")
    for rank, match in enumerate(result.matches, 1):
        table.add_row(str(rank), _shown(match.person), f"{match.similarity:.3f}")
    console.print(table)


@app.command("list")
def list_people(gallery: str = GalleryOption, as_json: bool = JsonOption) -> None:
    """Everyone enrolled, with their number of templates."""
    with reporting_errors(as_json):
        people = _open(gallery).people()
    if as_json:
        emit_json(people)
        return
    table = Table("person", "templates")
    for person in people:
        table.add_row(_shown(person.name), str(person.templates))
    console.print(table)
    if any(needs_escape(p.name) for p in people):
        _say("Some names are shown escaped (\\xNN, \\uNNNN): give them with --escaped.")


@app.command()
def remove(
    name: str,
    escaped: bool = EscapedOption,
    gallery: str = GalleryOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete a person (NAME in any case) and all their templates."""
    with reporting_errors(as_json):
        removed = _open(gallery).remove(unescape_name(name) if escaped else name)
    emit_json({"removed": removed}) if as_json else _say(f"removed {removed} templates")


@app.command()
def rename(
    old: str,
    new: str,
    escaped: bool = EscapedOption,
    gallery: str = GalleryOption,
    as_json: bool = JsonOption,
) -> None:
    """Rename OLD (in any case) to NEW. NEW must not be another person's name in any case;
    changing only its case is allowed."""
    with reporting_errors(as_json):
        old = unescape_name(old) if escaped else old
        stored = _open(gallery).rename(old, new)
    emit_json({"renamed": [old, stored]}) if as_json else _say(f"{escape_name(old)} → {stored}")


@app.command("export")
def export_gallery(path: Path, gallery: str = GalleryOption) -> None:
    """Write the gallery (embeddings and metadata, no images) to one .npz file."""
    with reporting_errors(False):
        exported = _open(gallery).export(path)
    console.print(f"exported {exported} templates to {path}")


@app.command("import")
def import_gallery(path: Path, gallery: str = GalleryOption) -> None:
    """Add the templates of an exported .npz file; its names are checked first (one bad name
    imports nothing) and a name already enrolled, in any case, adds to that person."""
    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    with reporting_errors(False):
        added = _open(gallery, create=True).import_(path)
    _say(f"imported {added} templates from {path}")
