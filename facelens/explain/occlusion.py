"""Occlusion: slide a patch over the crop and record how much the score drops."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from facelens.errors import ErrorCode, FaceLensError, check_count, check_positive
from facelens.explain.base import Explainer
from facelens.explain.faithfulness import substrate
from facelens.explain.perturb import blend_scores
from facelens.explain.scores import Target

# Each position is one forward pass and one S×S mask, kept twice (kept and hidden pixels):
# 1,024 (a 32×32 grid, 5× the default 14×14) is ~25 s on 2 CPU cores for the fused embedding
# (4.4 s for the default) and ~300 MB of masks at its 192 px frame. Finer strides only
# resample the same patches; a stride of 0.01 px asked for 478 GB.
MAX_POSITIONS = 1024


def per_side(size: int, patch: int, stride: float) -> float:
    """How many patch corners one side of the grid has (a float: a tiny stride gives
    more than any int should hold)."""
    return math.ceil((size - patch) / stride) + 1 if (size - patch) / stride < 1e9 else math.inf


def positions(size: int, patch: int, stride: float) -> np.ndarray:
    """Patch corners from 0 to size - patch, spaced by at most `stride` (edges covered)."""
    count = int(per_side(size, patch, stride))
    return np.round(np.linspace(0, size - patch, count)).astype(int)


class Occlusion(Explainer):
    """Signed map: score(original) − score(patch occluded), averaged over covering patches.

    Positive = hiding the region lowers the score (it supports it); negative = raises it.
    patch, stride: crop pixels; defaults give a 14×14 grid of patches 16% of the crop wide.
    fill: "blur" (the region, heavily blurred) or "mean" (the crop's mean colour).
    """

    method = "occlusion"
    signed = True
    patch_share = 0.16  # default patch side, as a share of the crop's

    def __init__(
        self,
        patch: int | None = None,
        stride: float | None = None,
        fill: Literal["blur", "mean"] = "blur",
        device: str | torch.device = "cpu",
        faithfulness: bool = True,
    ) -> None:
        super().__init__(device, faithfulness)
        self.patch = None if patch is None else check_count("patch", patch)
        self.stride = None if stride is None else check_positive("stride", stride)
        if fill not in ("blur", "mean"):
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"fill must be 'blur' or 'mean', got {fill!r}"
            )
        self.fill = fill

    def grid(self, size: int) -> tuple[int, np.ndarray]:
        """The patch side and its corners on an S-pixel crop, or `bad_argument` when the
        patch does not fit the crop, the stride is longer than it or the grid is too fine."""
        patch = self.patch or max(2, round(self.patch_share * size))
        if patch >= size:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"patch {patch} hides the whole {size} px crop: choose 1 to {size - 1}",
            )
        stride = self.stride or (size - patch) / 13
        if stride > size:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"stride {stride:g} is longer than the {size} px crop"
            )
        count = per_side(size, patch, stride) ** 2
        if count > MAX_POSITIONS:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"patch {patch} at stride {stride:g} is {count:,.0f} positions on the {size} px "
                f"crop, over the {MAX_POSITIONS} allowed: use a longer stride",
            )
        return patch, positions(size, patch, stride)

    def keep_masks(self, size: int) -> torch.Tensor:
        patch, corners = self.grid(size)
        keep = torch.ones(len(corners) ** 2, size, size)
        for n, (y, x) in enumerate((y, x) for y in corners for x in corners):
            keep[n, y : y + patch, x : x + patch] = 0.0
        return keep

    def fill_image(self, image: np.ndarray, target: Target) -> np.ndarray:
        """What an occluded patch shows instead (float, the crop's shape)."""
        if self.fill == "blur":
            return substrate(image)
        return np.broadcast_to(image.mean(axis=(0, 1)), image.shape).copy()

    def compute(self, crop: np.ndarray, target: Target) -> np.ndarray:
        image = crop.astype(np.float32)
        fill = self.fill_image(image, target)
        keep = self.keep_masks(crop.shape[0])
        full = torch.ones(1, *keep.shape[1:])
        scores = blend_scores(image, fill, torch.cat([full, keep]), target, self.device)
        drop = (scores[0] - scores[1:]).cpu()
        hidden = 1.0 - keep
        total = torch.einsum("m,mhw->hw", drop, hidden)
        return (total / hidden.sum(0).clamp_min(1.0)).numpy()
