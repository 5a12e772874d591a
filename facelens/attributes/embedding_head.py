"""Age or gender read off a recognition embedding by a small trained head.

The heads come from `facelens train age|gender` (facelens/train/heads.py): an ONNX graph
from "embedding" (N×D unit vectors of one embedder) to one number per face (the probability
of "female", or years), whose metadata says what it needs: `facelens.target` (age or
gender), `facelens.embedder` (dlib, sface or fused) and, for age, the residual table of its
90% interval (`facelens.age_residual_quantiles`, as age.RESIDUAL_QUANTILES, measured on the
head's validation split). The embedding is what FaceLens computes anyway, so a head costs
microseconds where a crop network costs milliseconds.

A head may be blended with a crop network (`facelens.faceapi_weight`, chosen on the
validation split: 0 is the head alone): years are averaged, gender in log-odds. Which one is
`facelens.crop_network`: "faceapi" (face-api's own weights; heads written before the key
existed) or "faceapi-utk" (the fine-tune that is the default crop network).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.attributes.age import ResidualTable, parse_residual_table
from facelens.attributes.base import AttributeModel
from facelens.errors import ErrorCode, FaceLensError

TARGETS = ("age", "gender")
CROP_NETWORKS = ("faceapi", "faceapi-utk")  # the built-in crop networks a head may blend with
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
        self.crop_weight = float(meta.get("facelens.faceapi_weight", "0"))
        self.crop_network = meta.get("facelens.crop_network", CROP_NETWORKS[0])
        if self.crop_network not in CROP_NETWORKS:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"{file_name} blends with {self.crop_network!r}, not one of {CROP_NETWORKS}",
            )
        table = parse_residual_table(meta.get("facelens.age_residual_quantiles", ""))
        self.residual_quantiles: ResidualTable = table or ()
        if table is None or (self.target == "age" and not table):
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"{file_name}: its age residual table is incomplete"
            )

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """The head alone (before any blend)."""
        if len(embeddings) == 0:
            return np.zeros(0, np.float32)
        return self.run(embeddings.astype(np.float32))[0].reshape(len(embeddings))

    def predict_blended(self, embeddings: np.ndarray, crop: np.ndarray | None) -> np.ndarray:
        """The head blended with its crop network's outputs `crop` (needed when
        crop_weight > 0)."""
        alone = self.predict(embeddings)
        if self.crop_weight == 0:
            return alone
        assert crop is not None, "this head is blended with face-api's network"
        return blend(self.target, alone, crop, self.crop_weight)


def blend(target: str, head: np.ndarray, crop: np.ndarray, crop_weight: float) -> np.ndarray:
    """(1 − w)·head + w·crop: years as they are, probabilities of "female" in log-odds."""
    if target == "age":
        return ((1 - crop_weight) * head + crop_weight * crop).astype(np.float32)
    head, crop = (np.clip(p, 1e-6, 1 - 1e-6) for p in (head, crop))
    odds = (1 - crop_weight) * np.log(head / (1 - head)) + crop_weight * np.log(crop / (1 - crop))
    return (1 / (1 + np.exp(-odds))).astype(np.float32)
