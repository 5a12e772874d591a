"""The trustworthy region of each face: the largest upright rectangle of chip cells that
are face pixels inside the photo, neither over- nor under-exposed, nor covered (occlusion
network), mapped back to photo pixels."""

from __future__ import annotations

import cv2
import numpy as np

from facelens.quality.image_stats import OVER, UNDER
from facelens.quality.measure import Measurements
from facelens.quality.occlusion import BOXES, REGIONS
from facelens.types import Box

CELLS = 10  # grid over the chip
MIN_SHARPNESS = 10.0  # component score below which no pixel of the face is trusted


def trusted_cells(measured: Measurements, i: int) -> np.ndarray:
    """(CELLS, CELLS) bool grid of trustworthy cells of face i's chip."""
    gray, mask = measured.gray[i], measured.masks[i]
    size = gray.shape[0]
    step = size // CELLS
    cut = step * CELLS

    def cell_mean(values: np.ndarray) -> np.ndarray:
        return values[:cut, :cut].reshape(CELLS, step, CELLS, step).mean(axis=(1, 3))

    face = cell_mean(mask.astype(np.float32)) >= 0.5
    exposed = cell_mean(((gray > OVER) | (gray < UNDER)) & mask) < 0.5
    trusted = face & exposed
    for region, box in zip(REGIONS, BOXES.values(), strict=True):
        if measured.raw[f"occlusion_{region}"][i] > 0.5:
            x0, y0, x1, y1 = (round(v / step) for v in box)
            trusted[y0:y1, x0:x1] = False
    return trusted


def largest_rectangle(grid: np.ndarray) -> tuple[int, int, int, int] | None:
    """(row0, col0, row1, col1), exclusive ends, of the largest all-True rectangle."""
    best, best_area = None, 0
    heights = np.zeros(grid.shape[1], int)
    for row in range(grid.shape[0]):
        heights = np.where(grid[row], heights + 1, 0)
        for left in range(grid.shape[1]):
            height = heights[left]
            for right in range(left, grid.shape[1]):
                height = min(height, heights[right])
                if height == 0:
                    break
                area = height * (right - left + 1)
                if area > best_area:
                    best_area, best = area, (row - height + 1, left, row + 1, right + 1)
    return best


def trusted_regions(measured: Measurements, scores: dict[str, np.ndarray]) -> list[Box | None]:
    width, height = measured.image_size
    step = measured.gray.shape[1] // CELLS
    out: list[Box | None] = []
    for i, matrix in enumerate(measured.matrices):
        rect = largest_rectangle(trusted_cells(measured, i))
        if rect is None or scores["sharpness"][i] < MIN_SHARPNESS:
            out.append(None)
            continue
        r0, c0, r1, c1 = rect
        corners = np.array([[c0, r0, 1], [c1, r0, 1], [c0, r1, 1], [c1, r1, 1]], float)
        corners[:, :2] *= step
        mapped = corners @ cv2.invertAffineTransform(matrix).T
        x1, y1 = np.clip(mapped.min(axis=0), 0, [width, height])
        x2, y2 = np.clip(mapped.max(axis=0), 0, [width, height])
        out.append(Box.from_array(np.array([x1, y1, x2, y2])))
    return out
