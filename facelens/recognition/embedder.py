"""The recognition embedding: dlib's ResNet (128-d), ported to ONNX, on 150×150 chips."""

from __future__ import annotations

import numpy as np

from facelens.detection.align import CropTemplate
from facelens.models.onnx_model import OnnxModel

# dlib's 5-point template on the unit face square (get_face_chip_details in dlib's
# interpolation.h): subject's left eye outer and inner corner, right eye outer and inner
# corner, base of the nose. The chip is 150 px with padding 0.25; dlib's pixel grid sits half
# a pixel off OpenCV's (with the shift our warp of dlib's points matches dlib.get_face_chip
# to 2.1 grey levels on average, 4.0 without).
_UNIT = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
DLIB_CHIP = CropTemplate(size=150, points=((_UNIT + 0.25) / 1.5 * 150 - 0.5).astype(np.float32))


class DlibEmbedder(OnnxModel):
    """N×150×150×3 RGB uint8 chips in, N×128 L2-normalised embeddings out.

    Chips are cut at dlib's 5 points predicted from the face mesh (detection.dlib_points).
    """

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
