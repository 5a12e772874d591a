"""Quality heat map: how much each region of the face raises or lowers the score.

Occlusion analysis over a GRID×GRID patch grid of the aligned chip, all patches scored in
one batch: each patch in turn is left out of the image statistics (sharpness, exposure,
luminance, dynamic range) and the unified score is recomputed. A patch whose removal lowers
the score raises it (positive heat); a blurred or badly exposed patch, whose removal raises
the score, lowers it (negative). A region the occlusion network finds covered (eyes, nose,
mouth) gets the score change of uncovering it. Geometry (pose, eyes open, size) and
embedding stability stay as measured. Values are score changes over HEAT_SCALE,
clipped to [-1, 1]; cells off the face are 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from facelens.quality import components, model
from facelens.quality.image_stats import OVER, SHARPNESS_SIGMA, UNDER
from facelens.quality.measure import Measurements
from facelens.quality.occlusion import BOXES, REGIONS

GRID = 8
HEAT_SCALE = 0.05  # a score change of 0.05 from one patch is full heat


def _cell_sums(values: np.ndarray, cells: int) -> np.ndarray:
    step = values.shape[0] // cells
    cut = step * cells
    return values[:cut, :cut].reshape(cells, step, cells, step).sum(axis=(1, 3)).reshape(-1)


def _stats_without_patches(gray: np.ndarray, mask: np.ndarray, base: dict) -> dict:
    """Image statistics with each patch in turn left out: (GRID²,) per measure."""
    m = mask.astype(np.float64)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float64)
    smooth = cv2.GaussianBlur(gray, (0, 0), SHARPNESS_SIGMA)
    lap2 = cv2.Laplacian(smooth, cv2.CV_32F, ksize=3).astype(np.float64) ** 2
    y = gray.astype(np.float64)
    sums = {
        "n": m,
        "y": y * m,
        "y2": y * y * m,
        "under": (y < UNDER) * m,
        "over": (y > OVER) * m,
        "inner": inner,
        "lap": lap2 * inner,
    }
    total = {k: v.sum() for k, v in sums.items()}
    left = {k: np.maximum(total[k] - _cell_sums(v, GRID), 0) for k, v in sums.items()}
    n = np.maximum(left["n"], 1)
    mean = left["y"] / n
    var = np.maximum(left["y2"] / n - mean**2, 0)
    hist = np.zeros((GRID * GRID, 256))
    levels = np.clip(y, 0, 255).astype(np.int64)
    step = gray.shape[0] // GRID
    full = np.bincount(levels[mask], minlength=256)
    for k in range(GRID * GRID):
        r, c = divmod(k, GRID)
        cell = (slice(r * step, (r + 1) * step), slice(c * step, (c + 1) * step))
        hist[k] = full - np.bincount(levels[cell][mask[cell]], minlength=256)
    p = hist / np.maximum(hist.sum(axis=1, keepdims=True), 1)
    entropy = -(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0)).sum(axis=1)
    sharp = left["lap"] / np.maximum(left["inner"], 1) / (var * 1.0 + 1.0)
    return {
        "under_exposure": left["under"] / n,
        "over_exposure": left["over"] / n,
        "luminance_mean": mean / 255,
        "luminance_variance": var / 255**2,
        "dynamic_range": entropy,
        "sharpness": np.log10(sharp + 1e-6),
        "noise": np.full(GRID * GRID, base["noise"]),
    }


def heatmaps(measured: Measurements, embedder: object = None) -> list[np.ndarray]:
    """(GRID, GRID) heat maps in chip coordinates (row 0 = top of the aligned face)."""
    del embedder  # stability is held fixed (see module doc)
    base_scores, _ = model.unified(components.normalise(measured.raw))
    cells = GRID * GRID
    step = measured.masks.shape[1] // GRID
    out = []
    for i in range(len(measured.chips)):
        base = {k: float(v[i]) for k, v in measured.raw.items()}
        # every patch left out of the statistics in turn, plus one row per covered region
        variants = {k: np.full(cells + len(REGIONS), v) for k, v in base.items()}
        for name, values in _stats_without_patches(
            measured.gray[i], measured.masks[i], base
        ).items():
            variants[name][:cells] = values
        for j, region in enumerate(REGIONS):
            variants[f"occlusion_{region}"][cells + j] = 0.0
        scores, _ = model.unified(components.normalise(variants))
        change = (base_scores[i] - scores) / HEAT_SCALE
        heat = change[:cells].copy()
        for j, box in enumerate(BOXES.values()):  # a covered region lowers the score there
            x0, y0, x1, y1 = (round(v / step) for v in box)
            region_heat = heat.reshape(GRID, GRID)[y0:y1, x0:x1]
            region_heat += change[cells + j]
        on_face = _cell_sums(measured.masks[i].astype(np.float64), GRID)
        heat[on_face < 0.3 * step * step] = 0.0
        out.append(np.clip(heat, -1, 1).reshape(GRID, GRID).astype(np.float32))
    return out
