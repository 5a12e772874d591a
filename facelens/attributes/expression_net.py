"""Expression from a network trained with `facelens train expression` (a user's or ours).

The ONNX graph takes N×1×48×48 grey faces in 0..1, cut in FER2013's framing (the shipped
network's FER_FRAME at 48 px, which is where FER2013's own faces sit), and returns N×7
probabilities in LABELS order with its fitted temperature already applied; its metadata
says `facelens.target` = expression. Views: the crop and its mirror image, averaged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.attributes.base import AttributeModel
from facelens.attributes.crops import view_batch, view_mean
from facelens.attributes.expression import FER_FRAME, LABELS, LUMA
from facelens.detection.align import CropTemplate
from facelens.errors import ErrorCode, FaceLensError

SIZE = 48
FRAME_48 = CropTemplate(SIZE, FER_FRAME.points * SIZE / FER_FRAME.size)


class TrainedExpression(AttributeModel):
    """N faces in, N×7 calibrated probabilities in LABELS order out."""

    templates = (FRAME_48,)
    flip = True

    def __init__(self, file_name: str | Path) -> None:
        super().__init__(file_name)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("facelens.target") != "expression" or meta.get("facelens.labels") != ",".join(
            LABELS
        ):
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"{file_name} is not a facelens expression network"
            )

    def probabilities(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        if len(points) == 0:
            return np.zeros((0, len(LABELS)), np.float32)
        chips = view_batch(rgb, points, self.templates, self.flip)
        grey = (chips.astype(np.float32) @ LUMA)[:, None] / 255.0
        return view_mean(self.run(grey)[0], len(points))
