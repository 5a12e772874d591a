"""CorrRISE (Lu, Xu & Ebrahimi, WACV 2024): which pixels move the pair similarity?

Random low-resolution binary masks, upsampled with random sub-cell shifts, blend the crop
with a fill image; the map is, per pixel, the Pearson correlation across masks between
the pixel's mask value and the target score (for a pair: the similarity to the other face).
Positive = showing the pixel raises the similarity (similar region), negative = lowers it
(dissimilar region). Any scalar target works (attribute probability, quality score).

The fill is the crop's blurred copy (fill="blur", RISE's choice and the default: it is the
substrate the deletion and insertion curves use, and on held-out LFW pairs it meets the
deletion target), or, for a pair whose other aligned crop is known (fill="other_face"),
halfway between that blurred copy and the other face: hiding a region then also moves it
towards the other face, so a region that differs between the two stands out. That fill
finds a replaced region more often (region game) but is less faithful by deletion; both
sets of figures are in the README.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from facelens.errors import ErrorCode, FaceLensError, check_count
from facelens.explain.base import Explainer
from facelens.explain.faithfulness import substrate
from facelens.explain.perturb import blend_scores
from facelens.explain.scores import SimilarityTarget, Target

Fill = Literal["blur", "other_face"]
DEFAULT_FILL: Fill = "blur"


def random_masks(
    count: int, size: int, cells: int, keep: float, generator: torch.Generator
) -> torch.Tensor:
    """(count, size, size) soft masks in [0, 1] (RISE's construction), on the generator's
    device (a GPU run never copies 4,000 masks across)."""
    device = generator.device
    cell = math.ceil(size / cells)
    grid = torch.rand(count, 1, cells + 1, cells + 1, generator=generator, device=device)
    grid = (grid < keep).float()
    up = F.interpolate(grid, size=((cells + 1) * cell,) * 2, mode="bilinear", align_corners=False)[
        :, 0
    ]
    dy, dx = torch.randint(0, cell, (2, count), generator=generator, device=device)
    span = torch.arange(size, device=device)
    rows = (dy[:, None] + span)[:, :, None]
    cols = (dx[:, None] + span)[:, None, :]
    return up[torch.arange(count, device=device)[:, None, None], rows, cols]


def correlation(masks: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Per-pixel Pearson correlation between mask values (M×H×W) and scores (M,)."""
    m = masks.flatten(1)
    m = m - m.mean(0)
    s = scores - scores.mean()
    covariance = s @ m
    denominator = m.norm(dim=0) * s.norm()
    return (covariance / denominator.clamp_min(1e-12)).view(masks.shape[1:])


# Masks per image unless asked (Python, CLI and REST alike): on fused, 400 masks come within
# 0.005 of 1,000's deletion score at under half the time (README, Explanations).
DEFAULT_MASKS = 300
# All masks are held at once, (count, crop, crop) float32: 4,000 at the fused 192 px frame is
# about 0.6 GB (the GPU target's count); more would grow memory without bound.
MAX_MASKS = 4000


class CorrRISE(Explainer):
    """masks: number of masked copies of the crop; cells: mask grid resolution; keep:
    probability that a cell shows the original; fill: "blur" or "other_face" (see above).
    Deterministic for a given seed."""

    method = "corrrise"
    signed = True

    def __init__(
        self,
        masks: int = DEFAULT_MASKS,
        cells: int = 8,
        keep: float = 0.5,
        seed: int = 0,
        fill: Fill = DEFAULT_FILL,
        device: str | torch.device = "cpu",
        faithfulness: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(device, faithfulness)
        self.masks = check_count("masks", masks)
        if self.masks > MAX_MASKS:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"masks must be at most {MAX_MASKS}, got {self.masks}"
            )
        self.cells, self.keep, self.seed = cells, keep, seed
        self.fill, self.progress = fill, progress

    def compute(self, crop: np.ndarray, target: Target) -> np.ndarray:
        generator = torch.Generator(self.device).manual_seed(self.seed)
        masks = random_masks(self.masks, crop.shape[0], self.cells, self.keep, generator)
        image = crop.astype(np.float32)
        fill = substrate(image)
        other = getattr(target, "reference_crop", None)
        if self.fill == "other_face" and isinstance(target, SimilarityTarget) and other is not None:
            fill = 0.5 * fill + 0.5 * other.astype(np.float32)
        scores = blend_scores(image, fill, masks, target, self.device, self.progress)
        return correlation(masks, scores).cpu().numpy()
