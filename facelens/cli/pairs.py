"""`facelens verify-pairs`: batch verification from a pairs file.

The file is CSV with two columns, the two photos of each pair (paths relative to the file's
folder, or absolute); a first row `image_a,image_b` is read as a header. Each photo is
detected, embedded and assessed once, however many pairs it is in.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer

from facelens.cli.output import (
    DetectorOption,
    EmbedderOption,
    JsonOption,
    console,
    reporting_errors,
)
from facelens.errors import ErrorCode, FaceLensError
from facelens.lens import FaceLens
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT
from facelens.types import Face

COLUMNS = ("image_a", "image_b", "similarity", "threshold", "same_person", "status", "error")


def read_pairs_file(path: Path) -> list[tuple[Path, Path]]:
    """The pairs of a CSV pairs file, resolved against its folder."""
    try:
        rows = [row for row in csv.reader(path.read_text().splitlines()) if any(row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        message = f"cannot read pairs file {path}: {error}"
        raise FaceLensError(ErrorCode.BAD_ARGUMENT, message) from None
    if rows and [c.strip().lower() for c in rows[0]] == ["image_a", "image_b"]:
        rows = rows[1:]
    for number, row in enumerate(rows, 1):
        if len(row) != 2 or not all(c.strip() for c in row):
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"{path}: row {number} must hold two photo paths, got {row!r}",
            )
    return [tuple(path.parent / c.strip() for c in row) for row in rows]  # type: ignore[misc]


def verify_pairs(
    pairs: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: image_a,image_b"),
    out: Path | None = typer.Option(None, "--out", help="Also write the results as CSV here."),
    operating_point: str = typer.Option(DEFAULT_OPERATING_POINT, "--operating-point"),
    policy: str | None = typer.Option(None, "--policy", help="strict, lenient or identity_check"),
    embedder: str = EmbedderOption,
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Verify every pair of a pairs file: one result per pair (JSON lines with --json), a
    failing photo reported on its pairs (`error`), never stopping the run."""
    lens = FaceLens(embedder=embedder, detector=detector)
    with reporting_errors(as_json):
        todo = read_pairs_file(pairs)
        lens.decision_rule(operating_point, policy)  # a bad name fails before any work
    faces: dict[Path, Face | FaceLensError] = {}

    def face_of(photo: Path) -> Face | FaceLensError:
        if photo not in faces:
            try:
                faces[photo] = lens.verification_face(photo, which=str(photo))
            except FaceLensError as error:
                faces[photo] = error
        return faces[photo]

    rows = []
    for image_a, image_b in todo:
        row: dict = {"image_a": str(image_a), "image_b": str(image_b)}
        first, second = face_of(image_a), face_of(image_b)
        failed = next((f for f in (first, second) if isinstance(f, FaceLensError)), None)
        if failed is not None:
            row |= {"status": "error", "error": failed.to_dict()}
        else:
            assert isinstance(first, Face) and isinstance(second, Face)
            result = lens.decide(first, second, operating_point, policy)
            row |= result.model_dump(
                mode="json", include={"similarity", "threshold", "same_person", "status"}
            )
            row["reasons"] = result.reasons
        rows.append(row)
        if as_json:
            print(json.dumps(row), flush=True)
    if out:
        with out.open("w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                error = row.get("error")
                writer.writerow(row | {"error": error["code"] if error else ""})
    if not as_json:
        statuses = [r["status"] for r in rows]
        same = sum(r.get("same_person") is True for r in rows)
        console.print(
            f"{len(rows)} pairs: {same} same person, "
            f"{sum(r.get('same_person') is False for r in rows)} different, "
            f"{statuses.count('retake')} refused (retake), {statuses.count('error')} failed"
            + (f"; written to {out}" if out else "")
        )
