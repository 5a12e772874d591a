"""The region game's pieces: which face regions are swapped, how, and what counts as a hit.

In a genuine pair, one eye, the nose or the mouth region of B's aligned crop is replaced
(feathered edge) by the same region of another person's crop; a hit is when the dissimilar
map's maximum (the map's minimum) falls inside the replaced region.
"""

from __future__ import annotations

import cv2
import numpy as np

from facelens.explain.base import AlignedFace

__all__ = ["REGIONS", "region_hit", "regions_in", "swap_region"]


def _box(cx: float, cy: float, half_w: float, half_h: float) -> tuple[int, int, int, int]:
    return round(cx - half_w), round(cy - half_h), round(cx + half_w), round(cy + half_h)


# Replaced regions (x1, y1, x2, y2) in dlib's 150 px chip (padding 0.25), around where its
# eye centres, nose and mouth sit (subject's left eye on the image's right); other
# embedders' crops get the same patch of the face (`regions_in`).
REGIONS: dict[str, tuple[int, int, int, int]] = {
    "left_eye": _box(100.5, 46.5, 18, 12),
    "right_eye": _box(47.0, 46.5, 18, 12),
    "nose": _box(73.7, 74.0, 14, 16),
    "mouth": _box(74.0, 99.3, 30, 13),
}


def swap_region(crop: np.ndarray, donor: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """`crop` with `box` taken from `donor`, blended over a 3 px feathered edge."""
    x1, y1, x2, y2 = box
    mask = np.zeros(crop.shape[:2], np.float32)
    mask[y1:y2, x1:x2] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), 1.5)[..., None] * (mask[..., None] > 0)
    mixed = crop.astype(np.float32) * (1 - mask) + donor.astype(np.float32) * mask
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def regions_in(face: AlignedFace, dlib_matrix: np.ndarray) -> dict[str, tuple[int, ...]]:
    """`REGIONS` moved from the face's dlib chip (image -> chip `dlib_matrix`) into its
    explained crop (`face.matrix`): the bounding box of each region's mapped corners."""
    assert face.matrix is not None
    to_crop = face.matrix[:, :2] @ np.linalg.inv(dlib_matrix[:, :2])
    shift = face.matrix[:, 2] - to_crop @ dlib_matrix[:, 2]
    boxes = {}
    for name, (x1, y1, x2, y2) in REGIONS.items():
        corners = np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]], np.float64) @ to_crop.T
        low, high = np.round(corners.min(0) + shift), np.round(corners.max(0) + shift)
        boxes[name] = (int(low[0]), int(low[1]), int(high[0]), int(high[1]))
    return boxes


def region_hit(crop_map: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    y, x = np.unravel_index(int(np.argmin(crop_map)), crop_map.shape)
    x1, y1, x2, y2 = box
    return bool(x1 <= x < x2 and y1 <= y < y2)
