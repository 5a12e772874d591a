"""SFace (OpenCV Zoo, 128-d) on 112×112 chips aligned to insightface's ArcFace template."""

from __future__ import annotations

import numpy as np
import torch

from facelens.detection.align import CropTemplate
from facelens.models.onnx_model import weight_path
from facelens.recognition.base import NetworkEmbedder

# insightface's ArcFace 112×112 template (eye centres, nose tip, mouth corners), listed here
# in facelens's LANDMARK_NAMES order (subject's left first: the image's right in a frontal
# photo), so the pipeline's five landmarks align onto it as they are.
ARCFACE_112 = CropTemplate(
    size=112,
    points=np.array(
        [
            [73.5318, 51.5014],  # left eye
            [38.2946, 51.6963],  # right eye
            [56.0252, 71.7366],  # nose tip
            [70.7299, 92.2041],  # mouth left
            [41.5493, 92.3655],  # mouth right
        ],
        np.float32,
    ),
)


class SFaceEmbedder(NetworkEmbedder):
    """N×112×112×3 RGB uint8 chips in, N×128 L2-normalised embeddings out.

    The graph takes RGB 0..255 and normalises inside (OpenCV's FaceRecognizerSF feeds BGR,
    which measured 0.2 points worse on LFW). Chips are cut at the pipeline's own five
    landmarks (detection.landmarks.five_points: eye-contour centres, nose tip, mouth corners),
    the best of the variants measured on LFW (tools/experiments/sface_points.py).
    """

    name = "sface"
    version = "face_recognition_sface_2021dec"
    dimension = 128
    file_name = "sface.onnx"
    template = ARCFACE_112

    def landmarks(self, points: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        return points

    @classmethod
    def torch_twin(cls, device: str | torch.device = "cpu") -> torch.nn.Module:
        from facelens.models.torch_onnx import OnnxTorch

        return OnnxTorch(weight_path(cls.file_name)).eval().to(device)
