"""Aligned crops for the attribute networks: crop templates and test-time views."""

from __future__ import annotations

import numpy as np

from facelens.detection.align import CropTemplate, warp_crop

# Where our five landmarks (eye centres, nose tip, mouth corners) sit in dlib's unit face
# square: fitted so that they reproduce the chips dlib's own 5-point aligner cuts (581
# UTKFace faces; as a 150 px / padding 0.25 chip: (101.157, 46.307), (46.978, 46.294),
# (73.716, 79.835), (96.095, 99.239), (51.900, 99.308); unit = (p + 0.5) / 150 · 1.5 − 0.25).
# With it any dlib chip size and padding is cut from our landmarks (dlib-models' age-v1,
# since replaced, on these chips: MAE 6.51 vs 6.59 on dlib's own chips, 967 UTKFace faces).
UNIT_FACE = np.array(
    [
        [0.766570, 0.218070],
        [0.224780, 0.217940],
        [0.492160, 0.553350],
        [0.715950, 0.747390],
        [0.274000, 0.748080],
    ]
)


def dlib_chip(size: int, padding: float) -> CropTemplate:
    """The layout of dlib's `get_face_chip(image, shape, size, padding)`."""
    points = (UNIT_FACE + padding) / (1 + 2 * padding) * size - 0.5
    return CropTemplate(size, points.astype(np.float32))


def zoomed(template: CropTemplate, factor: float) -> CropTemplate:
    """The same crop with the landmarks spread `factor` times wider about their centroid."""
    centre = template.points.mean(axis=0)
    return CropTemplate(template.size, ((template.points - centre) * factor + centre))


def similarity(points: np.ndarray, template: CropTemplate) -> np.ndarray:
    """2×3 least-squares similarity from image points to the template (closed form).

    The fit `align.estimate_transform` converges to, without its RANSAC set-up cost (which
    dominated when every face is cut at several templates).
    """
    source = points.astype(np.float64) - points.mean(axis=0)
    target = template.points.astype(np.float64) - template.points.mean(axis=0)
    norm = float(np.sum(source**2)) or 1e-12
    a = float(np.sum(source * target)) / norm
    b = float(np.sum(source[:, 0] * target[:, 1] - source[:, 1] * target[:, 0])) / norm
    rotation = np.array([[a, -b], [b, a]])
    shift = template.points.mean(axis=0) - rotation @ points.mean(axis=0)
    return np.hstack([rotation, shift[:, None]])


def view_batch(
    rgb: np.ndarray, points: np.ndarray, templates: tuple[CropTemplate, ...], flip: bool
) -> np.ndarray:
    """Crops (V·N, S, S, 3) uint8 of N faces, view-major: every template, then mirrored.

    All views of all faces go through the network in one call; `view_mean` folds them back.
    """
    crops = [
        np.stack([warp_crop(rgb, similarity(face, t), t.size) for face in points])
        for t in templates
    ]
    if flip:
        crops += [crop[:, :, ::-1] for crop in crops]
    return np.concatenate(crops)


def view_mean(outputs: np.ndarray, faces: int) -> np.ndarray:
    """Average the per-view outputs (V·N, ...) of `view_batch` back to (N, ...)."""
    return outputs.reshape(-1, faces, *outputs.shape[1:]).mean(axis=0)
