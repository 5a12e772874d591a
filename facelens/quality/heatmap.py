"""Quality heat map: how much each region of the face raises or lowers the score.

Occlusion analysis on the aligned chip: a PATCH-cell square centred on each cell of a
GRID×GRID grid is filled with the face's mean colour, and every chip-based measure (the
image statistics and the eyes/nose/mouth occlusion network) is recomputed for all patches
in one batch; the unified score follows. A region whose covering lowers the score raises it
(positive heat: a sharp, well-exposed eye); a region whose covering raises the score lowers
it (negative heat: a glare spot, a hand). Geometry (pose, eyes open, size) and embedding
stability need the whole photo or the recogniser and are held as measured. Values are score
changes over HEAT_SCALE, clipped to [-1, 1]; cells off the face are 0.
"""

from __future__ import annotations

import numpy as np

from facelens.quality import components, model
from facelens.quality.image_stats import luminance, masked_stats
from facelens.quality.measure import Measurements
from facelens.quality.occlusion import REGIONS, occlusion_probabilities

GRID = 8
PATCH = 2  # patch side in cells: one cell (19 px) is smaller than an eye
HEAT_SCALE = 0.05  # a score change of 0.05 from one patch is full heat


def covered_copies(chip: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(1 + GRID², S, S, 3): the chip, then one copy per cell with its patch filled."""
    size = chip.shape[0]
    step = size / GRID
    fill = chip[mask].mean(axis=0) if mask.any() else chip.reshape(-1, 3).mean(axis=0)
    copies = np.repeat(chip[None], 1 + GRID * GRID, axis=0)
    for k in range(GRID * GRID):
        row, col = divmod(k, GRID)
        y0, x0 = (round(max(0.0, (v + 0.5 - PATCH / 2) * step)) for v in (row, col))
        y1, x1 = (round(min(size, (v + 0.5 + PATCH / 2) * step)) for v in (row, col))
        copies[1 + k, y0:y1, x0:x1] = fill
    return copies


def heatmaps(measured: Measurements) -> list[np.ndarray]:
    """(GRID, GRID) heat maps in chip coordinates (row 0 = top of the aligned face)."""
    out = []
    step = measured.masks.shape[1] / GRID
    for i in range(len(measured.chips)):
        mask = measured.masks[i]
        copies = covered_copies(measured.plain[i], mask)
        stats = [masked_stats(g, mask) for g in luminance(copies)]
        occluded = occlusion_probabilities(copies)
        variants = {k: np.full(len(copies), float(v[i])) for k, v in measured.raw.items()}
        for name in stats[0]:
            variants[name] = np.array([s[name] for s in stats])
        for j, region in enumerate(REGIONS):
            variants[f"occlusion_{region}"] = occluded[:, j]
        scores, _ = model.unified(components.normalise(variants))
        heat = (scores[0] - scores[1:]) / HEAT_SCALE
        rows = np.minimum((np.arange(GRID) + 0.5) * step, mask.shape[0] - 1).astype(int)
        on_face = mask[np.ix_(rows, rows)].reshape(-1)  # the cell centre is on the face
        heat[~on_face] = 0.0
        out.append(np.clip(heat, -1, 1).reshape(GRID, GRID).astype(np.float32))
    return out
