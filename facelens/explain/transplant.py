"""Transplant: which patch of this face, given the other face's look there, would change
the pair's similarity most?

Occlusion whose fill is the other face of the pair, aligned to the same template: each
patch of this crop is replaced by the same patch of the other crop and the similarity
re-scored. Where the two faces differ (a region that is not the same person's, a covered
or altered part), the transplant raises the similarity: the map is negative there (the
dissimilar region); where the faces already agree it stays near 0. It answers "where do
the two differ" more directly than hiding regions (occlusion, CorrRISE's blur), at the
cost of a map that is less faithful by the deletion curve, which hides regions with blur
(README, Explanations: region game and deletion figures).
"""

from __future__ import annotations

import numpy as np
import torch

from facelens.errors import ErrorCode, FaceLensError
from facelens.explain.occlusion import Occlusion
from facelens.explain.scores import SimilarityTarget, Target


class Transplant(Occlusion):
    """Signed pair map: similarity(original) − similarity(patch from the other face).

    patch, stride: crop pixels; the defaults give a 14×14 grid of patches 12% of the crop
    wide (chosen on LFW's ninth fold, README).
    """

    method = "transplant"
    patch_share = 0.12

    def __init__(
        self,
        patch: int | None = None,
        stride: float | None = None,
        device: str | torch.device = "cpu",
        faithfulness: bool = True,
    ) -> None:
        super().__init__(patch, stride, "blur", device, faithfulness)

    def fill_image(self, image: np.ndarray, target: Target) -> np.ndarray:
        other = getattr(target, "reference_crop", None)
        if not isinstance(target, SimilarityTarget) or other is None:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, "transplant explains a pair: it needs the other face"
            )
        if other.shape != image.shape:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"the other face's crop is {other.shape[:2]}, this one {image.shape[:2]}",
            )
        return other.astype(np.float32)
