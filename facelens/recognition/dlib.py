"""dlib's ResNet (128-d), ported to ONNX, on 150×150 chips cut at dlib's own five points."""

from __future__ import annotations

import numpy as np
import torch

from facelens.detection.align import CropTemplate
from facelens.detection.dlib_points import dlib_points
from facelens.models.onnx_model import weight_path
from facelens.recognition.base import NetworkEmbedder

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


class DlibEmbedder(NetworkEmbedder):
    """N×150×150×3 RGB uint8 chips in, N×128 L2-normalised embeddings out.

    Chips are cut at dlib's 5 points predicted from the face mesh (detection.dlib_points).
    """

    name = "dlib"
    version = "dlib_face_recognition_resnet_model_v1"
    dimension = 128
    file_name = "dlib_resnet_v1.onnx"
    template = DLIB_CHIP

    def landmarks(self, points: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        return dlib_points(mesh)

    @classmethod
    def torch_twin(cls, device: str | torch.device = "cpu") -> torch.nn.Module:
        from facelens.models.dlib_resnet import load_dlib_resnet

        model = load_dlib_resnet(weight_path(cls.file_name)).to(device)
        for parameter in model.parameters():  # gradients w.r.t. inputs/activations only
            parameter.requires_grad_(False)
        return model
