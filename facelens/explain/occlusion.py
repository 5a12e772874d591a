"""Occlusion: slide a patch over the crop and record how much the score drops."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from facelens.explain.base import Explainer
from facelens.explain.faithfulness import substrate
from facelens.explain.perturb import blend_scores
from facelens.explain.scores import Target


def positions(size: int, patch: int, stride: float) -> np.ndarray:
    """Patch corners from 0 to size - patch, spaced by at most `stride` (edges covered)."""
    count = int(np.ceil((size - patch) / stride)) + 1
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
        self.patch, self.stride, self.fill = patch, stride, fill

    def keep_masks(self, size: int) -> torch.Tensor:
        patch = self.patch or max(2, round(self.patch_share * size))
        stride = self.stride or (size - patch) / 13
        corners = positions(size, patch, stride)
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
