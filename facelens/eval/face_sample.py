"""The one labelled face of each image of a face data set (UTKFace, FER2013 crops).

Every image counts: when the detector finds no face, the image gets the mean landmarks and
mesh of the faces it did find in that set (the crops are centred), and is counted as missed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from facelens.detection.detector import DEFAULT_DETECTOR, FaceDetector, FoundFaces, snap_mesh
from facelens.errors import FaceLensError
from facelens.io import load_image
from facelens.quality.geometry import canonical

Prepare = Callable[[np.ndarray], np.ndarray]


def fer_canvas(rgb: np.ndarray) -> np.ndarray:
    """A 48 px FER frame upscaled 4× (bicubic) with half its size of edge padding around it."""
    big = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    pad = big.shape[0] // 2
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def same(rgb: np.ndarray) -> np.ndarray:
    return rgb


def sample(files: list[Path], limit: int | None) -> list[Path]:
    """Evenly spaced files (the FER folders are per class, so never just the first ones)."""
    if limit is None or limit >= len(files):
        return files
    return [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]


def central_faces(
    files: list[Path], prepare: Prepare = same, kind: str = DEFAULT_DETECTOR
) -> tuple[list[FoundFaces], np.ndarray]:
    """The face nearest each image's centre (as a one-face FoundFaces) and whether the
    detector found it; a miss gets the mean landmarks and mesh of the set's found faces (a
    centred face when the set has none: callers that train refuse such a set)."""
    detector = FaceDetector.shared(kind)
    picked: list[tuple[np.ndarray, np.ndarray] | None] = []
    for path in files:
        rgb = prepare(_load(path))
        found = detector.detect(rgb)
        if len(found):
            centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2
            distance = np.linalg.norm(centres - [rgb.shape[1] / 2, rgb.shape[0] / 2], axis=1)
            best = int(np.argmin(distance))
            picked.append((found.points[best], found.mesh[best]))
        else:
            picked.append(None)
    detected = np.array([p is not None for p in picked], bool)
    hits = [p for p in picked if p is not None]
    mean_face = (
        (np.mean([p[0] for p in hits], axis=0), np.mean([p[1] for p in hits], axis=0))
        if hits
        else None
    )
    faces = []
    for pick, path in zip(picked, files, strict=True):
        if pick is None:
            pick = mean_face if mean_face is not None else _centred_face(prepare(load_image(path)))
        faces.append(one_face(*pick))
    return faces, detected


def _load(path: Path) -> np.ndarray:
    """The image, or its error with the file's name (a set has thousands of files)."""
    try:
        return load_image(path)
    except FaceLensError as error:
        raise FaceLensError(error.code, f"{path}: {error.message}") from None


def face_points(
    files: list[Path], prepare: Prepare, kind: str = DEFAULT_DETECTOR
) -> tuple[list[np.ndarray], np.ndarray]:
    """Five landmarks per image (see `central_faces`) and whether the detector found it."""
    faces, detected = central_faces(files, prepare, kind)
    return [face.points[0] for face in faces], detected


def one_face(points: np.ndarray, mesh: np.ndarray | None = None) -> FoundFaces:
    x1, y1 = points.min(axis=0)
    x2, y2 = points.max(axis=0)
    return FoundFaces(
        boxes=np.array([[x1, y1, x2, y2]], np.float32),
        scores=np.zeros(1, np.float32),
        points=points[None].astype(np.float32),
        mesh=(np.zeros((468, 3)) if mesh is None else mesh)[None].astype(np.float32),
        mesh_scores=np.zeros(1, np.float32),
    )


def _centred_face(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Five landmarks and a (468, 3) mesh of a face filling a centred square crop (used only
    if no face was found in the whole set). The mesh is the canonical face placed on the
    landmarks: an all-zero mesh has no eyes to align on, and the chips cut from it failed."""
    unit = np.array([[0.69, 0.4], [0.31, 0.4], [0.5, 0.58], [0.66, 0.72], [0.34, 0.72]])
    points = (unit * [rgb.shape[1], rgb.shape[0]]).astype(np.float32)
    return points, snap_mesh(canonical()[None], points[None])[0]
