"""The decoder's training data: aligned face crops and the embeddings they came from.

Each image's labelled face (eval.face_sample.central_faces) gives the target crop, cut on
SFace's 112×112 ArcFace template (the crop the identity loss re-embeds), and the chosen
embedder's vector of the face, plain and of its mirror image (the mirrored pair doubles the
data: mirror crop ↔ mirror embedding). Results are cached in chunks under the cache folder
(a chunk is named by its files, the embedder and the networks' weights), so a long run
resumes where it stopped.

Sources: LFW (the images of the View 2 pairs of the folds asked for; folds are
person-disjoint, so fold 10 stays unseen), UTKFace-style folders, CFP's frontal images.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelens.detection.align import align_faces
from facelens.eval.cache import detection_key, weights_key
from facelens.eval.face_sample import central_faces
from facelens.eval.lfw_pairs import read_pairs
from facelens.io import load_image
from facelens.recognition.base import Embedder, NetworkEmbedder, normalise
from facelens.recognition.fused import FusedEmbedder, fuse
from facelens.recognition.sface import ARCFACE_112

CHUNK = 250


@dataclass
class FaceSet:
    """One row per image: crops (N, 112, 112, 3) uint8 RGB on the ArcFace template,
    embeddings (N, 2, D) unit vectors ([:, 0] plain, [:, 1] of the mirrored face)."""

    files: list[str]
    people: list[str]
    crops: np.ndarray
    embeddings: np.ndarray
    detected: np.ndarray

    def __len__(self) -> int:
        return len(self.files)


def lfw_images(lfw_dir: Path, folds: Iterable[int]) -> list[tuple[Path, str]]:
    """(image, person) of every image in the View 2 pairs of the given folds (0-based)."""
    wanted, seen, out = set(folds), set(), []
    for pair in read_pairs(lfw_dir):
        for name in (pair.image_a, pair.image_b):
            if pair.fold in wanted and name not in seen:
                seen.add(name)
                out.append((lfw_dir / "images" / name, name.split("/")[0]))
    return sorted(out)


def folder_images(folder: Path) -> list[tuple[Path, str]]:
    """Every .jpg of a folder (UTKFace-style: one face per image, no identities)."""
    return [(path, path.name) for path in sorted(folder.glob("*.jpg"))]


def cfp_frontal_images(cfp_dir: Path) -> list[tuple[Path, str]]:
    return [(p, p.parts[-3]) for p in sorted(cfp_dir.glob("Images/*/frontal/*.jpg"))]


def plain_and_mirrored(embedder: Embedder, rgb, points, mesh) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) unit vectors of the faces and of their mirror images (one call per network)."""
    if isinstance(embedder, FusedEmbedder):
        pairs = [plain_and_mirrored(part, rgb, points, mesh) for part in embedder.parts]
        return tuple(fuse(pairs[0][i], pairs[1][i], embedder.weight) for i in (0, 1))  # type: ignore[return-value]
    assert isinstance(embedder, NetworkEmbedder), "a network or a fused pair of networks"
    plain, mirrored = embedder.raw(embedder.chips(rgb, points, mesh), flip=True)
    assert mirrored is not None
    return normalise(plain), normalise(mirrored)


def _embed_chunk(files: list[Path], embedder: Embedder) -> dict[str, np.ndarray]:
    faces, detected = central_faces(files)
    crops, vectors = [], []
    for path, face in zip(files, faces, strict=True):
        rgb = load_image(path)
        crops.append(align_faces(rgb, face.points, ARCFACE_112)[0][0])
        plain, mirrored = plain_and_mirrored(embedder, rgb, face.points, face.mesh)
        vectors.append(np.stack([plain[0], mirrored[0]]))
    return {"crops": np.stack(crops), "embeddings": np.stack(vectors), "detected": detected}


def _chunk_key(files: list[Path], embedder: Embedder) -> str:
    hasher = hashlib.sha256(f"{embedder.name}:{embedder.version}:{detection_key()}".encode())
    parts = embedder.parts if isinstance(embedder, FusedEmbedder) else (embedder,)
    for part in parts:
        hasher.update(weights_key(part.file_name).encode())  # type: ignore[attr-defined]
    for path in files:
        hasher.update(str(path).encode())
    return hasher.hexdigest()[:16]


def embed_images(
    images: list[tuple[Path, str]],
    embedder: Embedder,
    cache_dir: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> FaceSet:
    """Crops and embeddings of every image (cached per chunk of CHUNK images)."""
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(images), CHUNK):
        chunk = [path for path, _ in images[start : start + CHUNK]]
        stored = cache_dir / f"decoder-{_chunk_key(chunk, embedder)}.npz" if cache_dir else None
        if stored is not None and stored.is_file():
            with np.load(stored) as kept:
                parts.append(dict(kept))
        else:
            parts.append(_embed_chunk(chunk, embedder))
            if stored is not None:
                stored.parent.mkdir(parents=True, exist_ok=True)
                np.savez(stored.with_suffix(".tmp.npz"), **parts[-1])
                stored.with_suffix(".tmp.npz").rename(stored)
        if progress:
            progress(start + len(chunk), len(images))
    return FaceSet(
        files=[str(path) for path, _ in images],
        people=[person for _, person in images],
        crops=np.concatenate([p["crops"] for p in parts]),
        embeddings=np.concatenate([p["embeddings"] for p in parts]),
        detected=np.concatenate([p["detected"] for p in parts]),
    )
