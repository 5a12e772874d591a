"""Labelled face folders as recognition embeddings: the training data of the age and
gender heads (facelens/train/heads.py).

Each image's labelled face (eval.face_sample.central_faces: a missed face gets the chunk's
mean landmarks and mesh) is embedded by every recognition network, plain and mirrored, once,
and read by face-api's crop network (the heads can be blended with it). Results are cached
in chunks under artifacts/attribute-cache/ (a chunk is named by its file names and the
networks' weights; a part missing from a chunk is computed and added), so a long run
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelens.attributes.age_gender import FaceApiAgeGender
from facelens.detection.detector import DEFAULT_DETECTOR
from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.attributes import utkface_labels
from facelens.eval.cache import detection_key, weights_key
from facelens.eval.face_sample import central_faces
from facelens.io import load_image
from facelens.models.onnx_model import shared
from facelens.recognition.base import normalise
from facelens.recognition.registry import NETWORKS, get_network

CACHE_DIR = Path(__file__).resolve().parents[2] / "artifacts" / "attribute-cache"
CHUNK = 250
BATCH = 64
CROP_NETWORK = "faceapi"  # its parts: faceapi_years, faceapi_female, faceapi_weights


@dataclass
class EmbeddedFaces:
    """One row per image; vectors are unit length, [:, 0] plain and [:, 1] mirrored."""

    files: list[str]
    vectors: dict[str, np.ndarray]  # network name -> (N, 2, D) float32
    detected: np.ndarray  # (N,) bool
    crop_years: np.ndarray  # (N,) face-api's years (its crop + mirror, as at run time)
    crop_female: np.ndarray  # (N,) face-api's probability of "female"
    age: np.ndarray
    female: np.ndarray
    race: np.ndarray

    def __len__(self) -> int:
        return len(self.files)


def utkface_files(folder: Path) -> list[Path]:
    """The labelled images of a folder named as UTKFace's (AGE_GENDER_RACE_*.jpg)."""
    files = sorted(p for p in Path(folder).glob("*.jpg") if len(p.name.split("_")) >= 4)
    if not files:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"no UTKFace-style AGE_GENDER_RACE_*.jpg images in {folder}"
        )
    return files


def _embed_chunk(files: list[Path], detector: str, parts: list[str]) -> dict[str, np.ndarray]:
    faces, detected = central_faces(files, kind=detector)
    out: dict[str, np.ndarray] = {"detected": detected}
    if CROP_NETWORK in parts:
        crop = shared(FaceApiAgeGender)
        assert isinstance(crop, FaceApiAgeGender)
        read = [crop.predict(load_image(p), f.points) for p, f in zip(files, faces, strict=True)]
        out["faceapi_years"] = np.array([years[0] for years, _ in read], np.float32)
        out["faceapi_female"] = np.array([female[0] for _, female in read], np.float32)
        out["faceapi_weights"] = np.array(weights_key(FaceApiAgeGender.file_name))
    for name in (part for part in parts if part in NETWORKS):
        network = get_network(name)
        chips = np.concatenate(
            [
                network.chips(load_image(path), face.points, face.mesh)
                for path, face in zip(files, faces, strict=True)
            ]
        )
        rows = []
        for start in range(0, len(chips), BATCH):
            plain, mirrored = network.raw(chips[start : start + BATCH], flip=True)
            assert mirrored is not None
            rows.append(np.stack([normalise(plain), normalise(mirrored)], axis=1))
        out[name] = np.concatenate(rows)
    return out


def _chunk_key(files: list[Path], detector: str) -> str:
    hasher = hashlib.sha256(detector.encode() + detection_key().encode())
    for name, network in NETWORKS.items():
        hasher.update(name.encode() + weights_key(network.file_name).encode())
    for path in files:
        hasher.update(path.name.encode())
    return hasher.hexdigest()[:16]


def embed_folder(
    folder: Path,
    detector: str = DEFAULT_DETECTOR,
    cache_dir: Path | None = CACHE_DIR,
    progress: Callable[[int, int], None] | None = None,
) -> EmbeddedFaces:
    """Embed every labelled image of a UTKFace-style folder (cached per chunk)."""
    files = utkface_files(folder)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        cached = cache_dir / f"{_chunk_key(chunk, detector)}.npz" if cache_dir else None
        stored: dict[str, np.ndarray] = {}
        if cached is not None and cached.is_file():
            with np.load(cached) as kept:
                stored = dict(kept)
        crop_key = weights_key(FaceApiAgeGender.file_name)  # the chunk's key predates face-api
        missing = [name for name in NETWORKS if name not in stored]
        if str(stored.get("faceapi_weights", "")) != crop_key:
            missing.append(CROP_NETWORK)
        if missing:
            stored.update(_embed_chunk(chunk, detector, missing))
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached.with_suffix(".tmp.npz"), **stored)
                cached.with_suffix(".tmp.npz").rename(cached)
        parts.append(stored)
        if progress:
            progress(start + len(chunk), len(files))
    age, female, race = utkface_labels(files)
    return EmbeddedFaces(
        files=[p.name for p in files],
        vectors={name: np.concatenate([p[name] for p in parts]) for name in NETWORKS},
        detected=np.concatenate([p["detected"] for p in parts]),
        crop_years=np.concatenate([p["faceapi_years"] for p in parts]),
        crop_female=np.concatenate([p["faceapi_female"] for p in parts]),
        age=age,
        female=female,
        race=race,
    )
