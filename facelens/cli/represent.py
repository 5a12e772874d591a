"""`facelens represent`: one row per face of a photo or a folder (file, face index, box,
quality, embedding), written as NPZ (+ CSV without the vectors), as DeepFace's `represent`."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import typer

from facelens.cli.folders import images_in
from facelens.cli.output import DetectorOption, JsonOption, console, emit_json
from facelens.errors import FaceLensError
from facelens.lens import FaceLens
from facelens.recognition.registry import DEFAULT_EMBEDDER, EMBEDDER_NAMES

COLUMNS = ("image", "face", "x1", "y1", "x2", "y2", "quality", "verdict")


@dataclass
class FaceRows:
    """Faces of many images, aligned by row; `embeddings` is (rows, dimension)."""

    image: list[str] = field(default_factory=list)
    face: list[int] = field(default_factory=list)
    box: list[list[float]] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    verdict: list[str] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)

    def add_image(self, lens: FaceLens, image: Path) -> None:
        result = lens.analyze(image, quality=True, attributes=False, embedding=True)
        for face in result.faces:
            b, q = face.box, face.quality
            self.image.append(str(image))
            self.face.append(face.index)
            self.box.append([b.x1, b.y1, b.x2, b.y2])
            self.quality.append(q.score if q else float("nan"))
            self.verdict.append(q.verdict if q else "")
            self.embeddings.append(face.embedding_array)

    def arrays(self, dimension: int) -> dict[str, np.ndarray]:
        vectors = np.array(self.embeddings, np.float32).reshape(-1, dimension)
        return {
            "image": np.array(self.image, dtype=str),
            "face": np.array(self.face, np.int32),
            "box": np.array(self.box, np.float32).reshape(-1, 4),
            "quality": np.array(self.quality, np.float32),
            "verdict": np.array(self.verdict, dtype=str),
            "embedding": vectors,
        }


def collect(lens: FaceLens, images: list[Path], rows: FaceRows) -> dict[str, str]:
    """Add every image's faces to `rows`; returns {image: error code} for those that failed."""
    problems = {}
    for image in images:
        try:
            rows.add_image(lens, image)
        except FaceLensError as error:
            problems[str(image)] = error.code.value
    return problems


def represent(
    path: Path = typer.Argument(..., help="An image, or a folder of images (recursive)."),
    out: Path = typer.Option(..., "--out", help="NPZ file: image, face, box, quality, embedding."),
    csv_file: Path | None = typer.Option(None, "--csv", help="Also the rows (no vectors) as CSV."),
    embedder: str = typer.Option(DEFAULT_EMBEDDER, help=f"One of {', '.join(EMBEDDER_NAMES)}."),
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Embed every face of a photo or folder into one NPZ file (rows in file order)."""
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    lens = FaceLens(embedder=embedder, detector=detector)
    rows = FaceRows()
    problems = collect(lens, images_in(path), rows)
    arrays = rows.arrays(lens.embedder.dimension)
    np.savez(out, **arrays, embedder=np.array(f"{lens.embedder.name} {lens.embedder.version}"))
    if csv_file is not None:
        with csv_file.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for i in range(len(rows.image)):
                box = [round(v, 1) for v in rows.box[i]]
                writer.writerow(
                    [rows.image[i], rows.face[i], *box, rows.quality[i], rows.verdict[i]]
                )
    summary = {"faces": len(rows.image), "out": str(out), "failed": problems}
    if as_json:
        emit_json(summary)
        return
    console.print(f"{len(rows.image)} face(s) written to {out}", markup=False)
    for image, code in problems.items():
        console.print(f"  {image}: {code}", markup=False)
