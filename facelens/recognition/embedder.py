"""The recognition embedding: dlib's ResNet (128-d), ported to ONNX, on 150×150 chips."""

from __future__ import annotations

import numpy as np

from facelens.detection.align import CropTemplate
from facelens.models.onnx_model import OnnxModel

# dlib's 150×150 chip (padding 0.25), expressed in facelens's five landmarks (eye centres,
# nose tip, mouth corners). Fitted by tools/fit_alignment_template.py so that our landmarks
# reproduce the chips dlib's own 5-point aligner cuts (581 UTKFace faces; spread per
# point 1.8 px for the eyes, 5.6-6.2 px for nose and mouth, which move with pose).
DLIB_CHIP = CropTemplate(
    size=150,
    points=np.array(
        [
            [101.157, 46.307],
            [46.978, 46.294],
            [73.716, 79.835],
            [96.095, 99.239],
            [51.900, 99.308],
        ],
        dtype=np.float32,
    ),
)


class DlibEmbedder(OnnxModel):
    """N×150×150×3 RGB uint8 chips in, N×128 L2-normalised embeddings out."""

    file_name = "dlib_resnet_v1.onnx"
    template = DLIB_CHIP

    def embed(self, chips: np.ndarray, flip: bool = False) -> np.ndarray:
        """Embeddings of aligned chips; with `flip`, each fused with its mirror image.

        The mirrored chips run in the same batch, so flip fusion costs one call.
        """
        if len(chips) == 0:
            return np.zeros((0, 128), np.float32)
        batch = chips.transpose(0, 3, 1, 2).astype(np.float32)
        if flip:
            batch = np.concatenate([batch, batch[:, :, :, ::-1]])
        raw = self.run(batch)[0]
        if flip:
            raw = raw[: len(chips)] + raw[len(chips) :]
        return normalise(raw)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
