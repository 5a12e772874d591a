"""Age or gender read off a recognition embedding by a small trained head.

The heads come from `facelens train age|gender` (facelens/train/heads.py): an ONNX graph
from "embedding" (N×D unit vectors of one embedder) to one number per face (the probability
of "female", or years), whose metadata says what it needs: `facelens.target` (age or
gender), `facelens.embedder` (dlib, sface or fused) and, for age, the residual table of its
90% interval (`facelens.age_residual_quantiles`, as age.RESIDUAL_QUANTILES, measured on the
head's validation split). The embedding is what FaceLens computes anyway, so a head costs
microseconds where a crop network costs milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from facelens.attributes.age import ResidualTable
from facelens.attributes.base import AttributeModel
from facelens.errors import ErrorCode, FaceLensError

TARGETS = ("age", "gender")
DIMENSIONS = {"dlib": 128, "sface": 128, "fused": 256}


class EmbeddingHead(AttributeModel):
    """N embeddings in, N values out (probability of "female", or years)."""

    def __init__(self, file_name: str | Path) -> None:
        super().__init__(file_name)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.target = meta.get("facelens.target", "")
        self.embedder = meta.get("facelens.embedder", "")
        width = self.session.get_inputs()[0].shape[-1]
        if self.target not in TARGETS or DIMENSIONS.get(self.embedder) != width:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"{file_name} is not a facelens embedding head (target {self.target!r}, "
                f"embedder {self.embedder!r}, input width {width!r})",
            )
        rows = json.loads(meta.get("facelens.age_residual_quantiles", "[]"))
        self.residual_quantiles: ResidualTable = tuple(
            (float("inf") if edge is None else float(edge), float(low), float(high))
            for edge, low, high in rows
        )
        incomplete = bool(rows) and rows[-1][0] is not None  # the last row must be open-ended
        if incomplete or (self.target == "age" and not rows):
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"{file_name}: its age residual table is incomplete"
            )

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        if len(embeddings) == 0:
            return np.zeros(0, np.float32)
        return self.run(embeddings.astype(np.float32))[0].reshape(len(embeddings))
