"""Alignment: a similarity transform from five landmarks to a model's canonical crop."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropTemplate:
    """Where the five landmarks (see `facelens.types.LANDMARK_NAMES`) sit in a size×size crop."""

    size: int
    points: np.ndarray  # (5, 2) float32, crop pixels


def estimate_transform(points: np.ndarray, template: CropTemplate) -> np.ndarray:
    """2×3 similarity (rotation, uniform scale, shift) mapping image points onto the template."""
    # A huge reprojection threshold keeps all five points as inliers, so OpenCV's final
    # Levenberg-Marquardt refinement yields the least-squares similarity over all of them.
    matrix, _ = cv2.estimateAffinePartial2D(
        points.astype(np.float32),
        template.points.astype(np.float32),
        method=cv2.RANSAC,
        ransacReprojThreshold=1e6,
        refineIters=50,
    )
    if matrix is None:  # degenerate points (all equal): fall back to plain least squares
        matrix, _ = cv2.estimateAffinePartial2D(
            points.astype(np.float32) + np.eye(5, 2, dtype=np.float32) * 1e-3,
            template.points.astype(np.float32),
        )
    return matrix.astype(np.float64)


def warp_crop(
    image: np.ndarray,
    matrix: np.ndarray,
    size: int,
    shrink_below: float = 0.5,
    oversample: float = 1 / 0.9,
    margin: int = 2,
) -> np.ndarray:
    """Cut the size×size crop that `matrix` maps the image onto.

    When the crop is smaller than the face by more than `shrink_below`, the face region is
    first shrunk with area averaging (to `oversample` × the crop's scale, leaving the warp a
    little upsampling), as dlib's chip extractor does with its image pyramid: a bilinear warp
    alone would alias.
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < shrink_below:
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
        mapped = corners @ inverse.T
        height, width = image.shape[:2]
        x0, y0 = np.clip(np.floor(mapped.min(axis=0)).astype(int) - margin, 0, [width, height])
        x1, y1 = np.clip(np.ceil(mapped.max(axis=0)).astype(int) + margin, 0, [width, height])
        if x1 - x0 < 2 or y1 - y0 < 2:  # the crop lies outside the image
            return np.zeros((size, size, *image.shape[2:]), image.dtype)
        shrink = scale * oversample
        image = cv2.resize(
            image[y0:y1, x0:x1], None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA
        )
        # chip = A·(x_region / shrink + origin) + t
        matrix = np.concatenate(
            [matrix[:, :2] / shrink, (matrix[:, :2] @ [x0, y0] + matrix[:, 2])[:, None]], 1
        )
    return cv2.warpAffine(
        image,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def align_faces(
    image: np.ndarray, landmarks: np.ndarray, template: CropTemplate
) -> tuple[np.ndarray, np.ndarray]:
    """Crops (N, size, size, 3) uint8 and their transforms (N, 2, 3) for N faces' landmarks."""
    size = template.size
    if len(landmarks) == 0:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0, 2, 3))
    matrices = np.stack([estimate_transform(points, template) for points in landmarks])
    crops = np.stack([warp_crop(image, m, size) for m in matrices])
    return crops, matrices
