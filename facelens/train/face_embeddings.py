"""Labelled face folders as recognition embeddings: the training data of the age and
gender heads (facelens/train/heads.py).

Each image's labelled face (eval.face_sample.central_faces: a missed face gets the chunk's
mean landmarks and mesh) is embedded by every recognition network, plain and mirrored, once,
and read by the crop networks a head can be blended with (face-api's own weights and the
fine-tune, `attributes.embedding_head.CROP_NETWORKS`). Results are cached
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

from facelens.attributes.choice import CROP_FILES, load_crop
from facelens.detection.detector import DEFAULT_DETECTOR
from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.attributes import utkface_labels
from facelens.eval.cache import detection_key, weights_key
from facelens.eval.face_sample import central_faces
from facelens.io import load_image
from facelens.recognition.base import normalise
from facelens.recognition.registry import NETWORKS, get_network
from facelens.train.checks import require_faces

CACHE_DIR = Path(__file__).resolve().parents[2] / "artifacts" / "attribute-cache"
CHUNK = 250
BATCH = 64
# per crop network NAME (of CROP_FILES) the parts NAME_years, NAME_female and NAME_weights


@dataclass
class EmbeddedFaces:
    """One row per image; vectors are unit length, [:, 0] plain and [:, 1] mirrored."""

    files: list[str]
    vectors: dict[str, np.ndarray]  # network name -> (N, 2, D) float32
    detected: np.ndarray  # (N,) bool
    crop_years: dict[str, np.ndarray]  # crop network -> (N,) years (crop + mirror, as at run time)
    crop_female: dict[str, np.ndarray]  # crop network -> (N,) probability of "female"
    age: np.ndarray
    female: np.ndarray
    race: np.ndarray

    def __len__(self) -> int:
        return len(self.files)


def utkface_files(folder: Path) -> list[Path]:
    """The labelled images of a folder named as UTKFace's (AGE_GENDER_RACE_*.jpg), checked
    before any work: `bad_argument` naming a file whose labels are not UTKFace's codes, or
    when there are too few faces (checks.MIN_FACES). Names of fewer than four parts are no
    label (UTKFace has three without a race) and are left out."""
    files = sorted(p for p in Path(folder).glob("*.jpg") if len(p.name.split("_")) >= 4)
    if not files:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"no UTKFace-style AGE_GENDER_RACE_*.jpg images in {folder}"
        )
    utkface_labels(files)  # raises for the first file with a bad label
    require_faces(len(files), str(folder))
    return files


def require_detections(detected: np.ndarray, folder: Path) -> None:
    """`no_face` when the detector found no face in any image: every face would be a guess
    (the centred layout), and a model trained on guesses still writes a confident card."""
    if not detected.any():
        raise FaceLensError(
            ErrorCode.NO_FACE, f"no face detected in any of {len(detected)} images in {folder}"
        )


def _embed_chunk(files: list[Path], detector: str, parts: list[str]) -> dict[str, np.ndarray]:
    faces, detected = central_faces(files, kind=detector)
    out: dict[str, np.ndarray] = {"detected": detected}
    for name in (part for part in parts if part in CROP_FILES):
        crop = load_crop(name)
        read = [crop.predict(load_image(p), f.points) for p, f in zip(files, faces, strict=True)]
        out[f"{name}_years"] = np.array([years[0] for years, _ in read], np.float32)
        out[f"{name}_female"] = np.array([female[0] for _, female in read], np.float32)
        out[f"{name}_weights"] = np.array(weights_key(CROP_FILES[name]))
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
    age, female, race = utkface_labels(files)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        cached = cache_dir / f"{_chunk_key(chunk, detector)}.npz" if cache_dir else None
        stored: dict[str, np.ndarray] = {}
        if cached is not None and cached.is_file():
            with np.load(cached) as kept:
                stored = dict(kept)
        missing = [name for name in NETWORKS if name not in stored]
        # the chunk's key predates the crop networks: their own weights' keys are stored
        missing += [
            name
            for name, file in CROP_FILES.items()
            if str(stored.get(f"{name}_weights", "")) != weights_key(file)
        ]
        if missing:
            stored.update(_embed_chunk(chunk, detector, missing))
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached.with_suffix(".tmp.npz"), **stored)
                cached.with_suffix(".tmp.npz").rename(cached)
        parts.append(stored)
        if progress:
            progress(start + len(chunk), len(files))
    detected = np.concatenate([p["detected"] for p in parts])
    require_detections(detected, folder)
    return EmbeddedFaces(
        files=[p.name for p in files],
        vectors={name: np.concatenate([p[name] for p in parts]) for name in NETWORKS},
        detected=detected,
        crop_years={c: np.concatenate([p[f"{c}_years"] for p in parts]) for c in CROP_FILES},
        crop_female={c: np.concatenate([p[f"{c}_female"] for p in parts]) for c in CROP_FILES},
        age=age,
        female=female,
        race=race,
    )
