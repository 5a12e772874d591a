"""detect, embed and verify."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from facelens.cli.folders import images_in, rows_for_folder
from facelens.cli.output import (
    DetectorOption,
    EmbedderOption,
    JsonOption,
    console,
    emit_json,
    reporting_errors,
)
from facelens.lens import FaceLens
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT
from facelens.types import ImageResult, Verification

# `verify` refused a photo: no decision (distinct from 2, bad input, and 0, decided).
RETAKE_EXIT_CODE = 3


def _faces_table(result: ImageResult, title: str) -> Table:
    table = Table(title=title)
    for column in ("face", "box (x1, y1, x2, y2)", "score", "left eye", "right eye"):
        table.add_column(column)
    for face in result.faces:
        b = face.box
        table.add_row(
            str(face.index),
            f"{b.x1:.0f}, {b.y1:.0f}, {b.x2:.0f}, {b.y2:.0f}",
            f"{face.detection_score:.3f}",
            str(face.landmarks.left_eye),
            str(face.landmarks.right_eye),
        )
    return table


def detect(
    image: Path,
    tiles: int | None = typer.Option(
        None,
        min=1,
        max=4,
        help="Look harder for small faces: YuNet at tiles× the input size (at most the photo's "
        "own); BlazeFace on a tiles×tiles grid (2 ≈ 5× slower).",
    ),
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Find every face with its box, confidence and five landmarks. IMAGE may be a folder:
    one entry per image (`image`, `result`, `error`), a failing image listed with its error."""
    lens = FaceLens(detector=detector)
    if image.is_dir():
        _detect_folder(lens, image, tiles, as_json)
        return
    with reporting_errors(as_json):
        result = lens.detect(image, tiles=tiles)
    if as_json:
        emit_json(result)
    else:
        console.print(_faces_table(result, f"{image.name}: {len(result.faces)} face(s)"))


def _detect_folder(lens: FaceLens, folder: Path, tiles: int | None, as_json: bool) -> None:
    def one(image: Path) -> list[dict]:
        return [{"image": str(image), "result": lens.detect(image, tiles=tiles), "error": None}]

    def problem(image: Path, code: str, message: str) -> dict:
        return {"image": str(image), "result": None, "error": {"code": code, "message": message}}

    with reporting_errors(as_json):
        lens.budget.check_tiles(tiles)
    rows = rows_for_folder(images_in(folder), one, problem, as_json)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        result, error = row["result"], row["error"]
        text = f"{len(result.faces)} face(s)" if result else f"{error['code']}: {error['message']}"
        console.print(f"{Path(row['image']).name}: {text}", markup=False)


def embed(
    image: Path,
    flip: bool = typer.Option(
        False, help="Fuse each embedding with its mirror image's.", metavar=""
    ),
    embedder: str = EmbedderOption,
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Compute the recognition embedding of every face (128-d; 256-d fused)."""
    if image.is_dir():
        raise typer.BadParameter(
            f"{image} is a folder: `facelens represent {image} --out faces.npz` embeds every "
            "face of a folder",
            param_hint="IMAGE",
        )
    with reporting_errors(as_json):
        result = FaceLens(flip=flip, embedder=embedder, detector=detector).embed(image)
    if as_json:
        emit_json(result)
        return
    console.print(_faces_table(result, f"{image.name}: {len(result.faces)} face(s)"))
    for face in result.faces:
        head = ", ".join(f"{v:+.3f}" for v in (face.embedding or [])[:6])
        size = len(face.embedding or [])
        console.print(f"face {face.index}: [{head}, …] ({size} values; --json prints all)")


def verify(
    image_a: Path,
    image_b: Path,
    operating_point: str = typer.Option(
        DEFAULT_OPERATING_POINT,
        "--operating-point",
        "-p",
        help="Named threshold: accuracy or fmr_1e-3.",
    ),
    policy: str | None = typer.Option(
        None,
        "--policy",
        help="Decision policy (replaces --operating-point): strict, lenient or identity_check.",
    ),
    flip: bool = typer.Option(False, help="Use flip-fused embeddings.", metavar=""),
    embedder: str = EmbedderOption,
    face_a: int = typer.Option(0, help="Which face of image A (0 = largest)."),
    face_b: int = typer.Option(0, help="Which face of image B (0 = largest)."),
    retake_below: float | None = typer.Option(
        None, min=0.0, max=1.0, help="Refuse a face whose quality score is below this."
    ),
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Decide whether two photos show the same person (refusing photos that need a retake).

    Exit code: 0 when a decision was made (same or different), 3 when a photo was refused
    (retake), 2 on bad input."""
    for image, hint in ((image_a, "IMAGE_A"), (image_b, "IMAGE_B")):
        if image.is_dir():  # a folder is not one photo: say what does take folders
            raise typer.BadParameter(
                f"{image} is a folder: `facelens verify-pairs PAIRS.csv` verifies many pairs, "
                "`facelens find PHOTO FOLDER` finds a person in a folder",
                param_hint=hint,
            )
    with reporting_errors(as_json):
        result = FaceLens(flip=flip, embedder=embedder, detector=detector).verify(
            image_a,
            image_b,
            operating_point,
            face_a,
            face_b,
            policy=policy,
            retake_below=retake_below,
        )
    if as_json:
        emit_json(
            result.model_dump(
                mode="json", exclude={"face_a": {"embedding"}, "face_b": {"embedding"}}
            )
        )
    else:
        _print_verification(result)
    if result.status == "retake":
        raise typer.Exit(RETAKE_EXIT_CODE)


def _print_verification(result: Verification) -> None:
    if result.status == "retake":
        console.print("[red]refused[/red]: no decision, please retake")
    else:
        same = result.same_person
        verdict = "[green]same person[/green]" if same else "[red]different people[/red]"
        note = " [yellow](for reference only)[/yellow]" if result.status == "low" else ""
        console.print(
            f"{verdict}{note}: similarity {result.similarity:.3f} "
            f"(threshold {result.threshold:.3f}, {result.operating_point})"
        )
    for label, face in (("A", result.face_a), ("B", result.face_b)):
        if face.quality is not None:
            q = face.quality
            console.print(f"photo {label}: quality {q.score:.2f} {q.band} ({q.verdict})")
    for reason in result.reasons:
        console.print(f"  {reason}")


def register(app: typer.Typer) -> None:
    for command in (detect, embed, verify):
        app.command()(command)
