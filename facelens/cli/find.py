"""`facelens find PROBE FOLDER`: who in a folder of photos is this person, without enrolling
(DeepFace's `find`). The folder's embeddings are cached and refreshed per file when its size
or modification time changes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from facelens.cli.folders import images_in
from facelens.cli.output import JsonOption, console, emit_json, reporting_errors
from facelens.cli.represent import FaceRows, collect
from facelens.errors import ErrorCode, FaceLensError
from facelens.lens import FaceLens
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT, threshold_for
from facelens.recognition.registry import DEFAULT_EMBEDDER, EMBEDDER_NAMES

CACHE_DIR = Path(os.environ.get("FACELENS_CACHE", "~/.cache/facelens")).expanduser()


def _signature(image: Path) -> tuple[int, int]:
    stat = image.stat()
    return stat.st_mtime_ns, stat.st_size


def folder_faces(lens: FaceLens, folder: Path, cache_dir: Path) -> dict[str, np.ndarray]:
    """Every face of the folder as arrays (FaceRows.arrays), computed only for files that are
    new or changed since the cache was written."""
    embedder = f"{lens.embedder.name} {lens.embedder.version}"
    key = hashlib.sha1(f"{folder.resolve()}|{embedder}".encode()).hexdigest()[:16]
    cache = cache_dir / f"find-{key}.npz"
    old = dict(np.load(cache, allow_pickle=False)) if cache.is_file() else None
    images = images_in(folder)
    signatures = {str(p): _signature(p) for p in images}
    known = {}
    if old is not None:
        for name, mtime, size in zip(old["files"], old["mtime_ns"], old["size"], strict=True):
            known[str(name)] = (int(mtime), int(size))
    fresh = [p for p in images if known.get(str(p)) != signatures[str(p)]]
    rows = FaceRows()
    collect(lens, fresh, rows)
    arrays = rows.arrays(lens.embedder.dimension)
    if old is not None:  # keep the cached rows of unchanged files
        keep = np.array([known.get(str(n)) == signatures.get(str(n)) for n in old["image"]], bool)
        arrays = {k: np.concatenate([old[k][keep], v]) for k, v in arrays.items()}
    cache_dir.mkdir(parents=True, exist_ok=True)
    files = list(signatures)
    np.savez(
        cache,
        **arrays,
        files=np.array(files, dtype=str),
        mtime_ns=np.array([signatures[f][0] for f in files], np.int64),
        size=np.array([signatures[f][1] for f in files], np.int64),
    )
    return arrays


def find(
    probe: Path,
    folder: Path,
    top: int = typer.Option(5, "--top", min=1, help="How many faces to list."),
    operating_point: str = typer.Option(DEFAULT_OPERATING_POINT, "--operating-point", "-p"),
    embedder: str = typer.Option(DEFAULT_EMBEDDER, help=f"One of {', '.join(EMBEDDER_NAMES)}."),
    cache_dir: Path = typer.Option(CACHE_DIR, help="Where folder embeddings are cached."),
    as_json: bool = JsonOption,
) -> None:
    """Who in FOLDER is the person in PROBE? The most similar faces, best first, each with
    whether it clears the 1:1 threshold."""
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder", param_hint="FOLDER")
    lens = FaceLens(embedder=embedder)
    with reporting_errors(as_json):
        threshold = threshold_for(operating_point, False, embedder)
        found = lens.analyze(probe, quality=True, attributes=False, embedding=True).faces
        if not found:
            raise FaceLensError(ErrorCode.NO_FACE, f"no face was found in {probe}")
        quality = found[0].quality
        if quality is not None and quality.verdict == "retake":
            why = ", ".join(quality.reasons) or f"quality {quality.score:.2f}"
            raise FaceLensError(ErrorCode.RETAKE, f"the probe needs a retake: {why}")
        faces = folder_faces(lens, folder, cache_dir)
    similarity = faces["embedding"] @ found[0].embedding_array
    matches = [
        {
            "image": str(faces["image"][i]),
            "face": int(faces["face"][i]),
            "similarity": round(float(similarity[i]), 4),
            "same_person": bool(similarity[i] > threshold),
        }
        for i in np.argsort(-similarity, kind="stable")[:top]
    ]
    if as_json:
        emit_json({"threshold": threshold, "faces_searched": len(similarity), "matches": matches})
        return
    table = Table("image", "face", "similarity", "same person", title=f"threshold {threshold:.3f}")
    for m in matches:
        table.add_row(m["image"], str(m["face"]), f"{m['similarity']:.3f}", str(m["same_person"]))
    console.print(table)
