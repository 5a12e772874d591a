"""A gradient pair map in the manner of FGGB (Lu, Xu & Ebrahimi, 2024).

For face A against face B (unit embeddings â, b̂, cosine s = Σ_k â_k b̂_k), each dimension k
has a share w_k = â_k b̂_k of the similarity and a gradient map g_k = ∂â_k/∂x.

variant="share" (default): R_k = g_k · (x − x̃) / â_k, the first-order relative change of
dimension k when pixel x is replaced by its blurred value x̃; the map Σ_k w_k R_k is then
exactly the first-order change of the cosine, so positive pixels hold what makes the faces
similar and negative ones what makes them differ. By linearity the D weighted gradients
cost one backward pass.

variant="fggb": the paper's form, Σ_k (w_k − threshold/D) · |g_k| / Σ|g_k| (per-dimension
normalised gradient magnitudes): one backward pass per dimension (`dims` limits them to the
largest |weights|). Measured on LFW it ranks pixels worse (see the eval) and is 30-100x slower.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from facelens.explain.base import Explainer
from facelens.explain.faithfulness import substrate
from facelens.explain.scores import SimilarityTarget, Target, nchw


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of N×1×H×W maps (replicate border)."""
    radius = max(1, round(3 * sigma))
    axis = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (axis / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))


class GradientPair(Explainer):
    """threshold: the verification threshold (default: the explained embedder's calibrated
    `accuracy` point), used by the "fggb" variant. smooth: Gaussian sigma (crop pixels)
    against gradient noise.

    Any embedder: for a fusion the gradient flows through each network's chip warp, so the
    map is exactly the share-weighted sum of each network's map warped back into the frame."""

    method = "gradient"
    signed = True

    def __init__(
        self,
        threshold: float | None = None,
        dims: int | None = None,
        variant: Literal["share", "fggb"] = "share",
        smooth: float = 3.0,
        chunk: int = 32,
        device: str | torch.device = "cpu",
        faithfulness: bool = True,
    ) -> None:
        super().__init__(device, faithfulness)
        self.threshold, self.dims, self.variant = threshold, dims, variant
        self.smooth, self.chunk = smooth, chunk

    def compute(self, crop: np.ndarray, target: Target) -> np.ndarray:
        if not isinstance(target, SimilarityTarget):
            raise TypeError("the gradient pair map explains a similarity to a second face")
        x = self.crop_tensor(crop[None])
        if self.variant == "fggb":
            return self._fggb(x, target).cpu().numpy()
        x.requires_grad_(True)
        (grads,) = torch.autograd.grad(target.torch_scores(x)[0].sum(), x)
        change = x.detach() - nchw(substrate(crop)[None], self.device)
        taylor = (grads * change).sum(1, keepdim=True)
        return gaussian_blur(taylor, self.smooth)[0, 0].cpu().numpy()

    def _fggb(self, x: torch.Tensor, target: SimilarityTarget) -> torch.Tensor:
        threshold = self.threshold
        if threshold is None:
            from facelens.recognition.operating_points import (
                DEFAULT_OPERATING_POINT,
                threshold_for,
            )

            threshold = threshold_for(DEFAULT_OPERATING_POINT, False, target.embedder)
        reference = torch.as_tensor(target.reference, device=self.device)
        with torch.no_grad():
            embedding = target.torch_embed(x)[0][0]
        weights = embedding * reference - threshold / embedding.numel()
        order = torch.argsort(weights.abs(), descending=True)
        chosen = order[: self.dims] if self.dims else order
        total = torch.zeros(x.shape[2:], device=self.device)
        for start in range(0, len(chosen), self.chunk):
            dims = chosen[start : start + self.chunk]
            batch = x.repeat(len(dims), 1, 1, 1).requires_grad_(True)
            rows = target.torch_embed(batch)[0]
            (grads,) = torch.autograd.grad(rows[torch.arange(len(dims)), dims].sum(), batch)
            saliency = gaussian_blur(grads.abs().sum(1, keepdim=True), self.smooth)[:, 0]
            saliency = saliency / saliency.flatten(1).sum(1).clamp_min(1e-12)[:, None, None]
            total += torch.einsum("k,khw->hw", weights[dims], saliency)
        return total
