"""dlib's five alignment points (eye corners, base of the nose) predicted from the face mesh.

dlib's recognition network was trained on chips cut from dlib's own 5-point landmarks. The
mesh has points near those, but not the same ones; a small ridge regression, fitted with
dlib's shape predictor as the teacher (tools/fit_landmark_adapter.py, on UTKFace), maps
mesh points to dlib's definition so the chips match what the network saw in training.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from facelens.detection.landmarks import LEFT_EYE_CONTOUR, RIGHT_EYE_CONTOUR, five_points

ADAPTER_FILE = Path(__file__).with_name("dlib_points.json")

NOSE = (1, 2, 4, 5, 6, 19, 94, 97, 98, 168, 195, 197, 326, 327, 141, 370, 164)
FEATURE_POINTS = LEFT_EYE_CONTOUR + RIGHT_EYE_CONTOUR + NOSE

# A canonical frame for the regression: the five standard points of an upright face.
FRAME = np.array([[70, 50], [30, 50], [50, 75], [66, 92], [34, 92]], np.float32)


def to_frame(mesh: np.ndarray) -> np.ndarray:
    """(N, 2, 3) similarity transforms from image pixels to the canonical frame."""
    points = five_points(mesh)
    matrices = [
        cv2.estimateAffinePartial2D(p, FRAME, method=cv2.RANSAC, ransacReprojThreshold=1e6)[0]
        for p in points
    ]
    return np.stack(matrices).astype(np.float64)


def features(mesh: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    xy = mesh[:, FEATURE_POINTS, :2].astype(np.float64)
    framed = np.einsum("nij,nkj->nki", matrices[:, :, :2], xy) + matrices[:, None, :, 2]
    return framed.reshape(len(mesh), -1)


@cache
def _weights() -> tuple[np.ndarray, np.ndarray]:
    stored = json.loads(ADAPTER_FILE.read_text())
    return np.array(stored["weights"]), np.array(stored["bias"])


def dlib_points(mesh: np.ndarray) -> np.ndarray:
    """(N, 468, 3) mesh in image pixels → (N, 5, 2) dlib 5-point landmarks in image pixels."""
    if len(mesh) == 0:
        return np.zeros((0, 5, 2), np.float32)
    weights, bias = _weights()
    matrices = to_frame(mesh)
    framed = (features(mesh, matrices) @ weights + bias).reshape(-1, 5, 2)
    inverse = np.stack([cv2.invertAffineTransform(m) for m in matrices])
    image = np.einsum("nij,nkj->nki", inverse[:, :, :2], framed) + inverse[:, None, :, 2]
    return image.astype(np.float32)
