"""MediaPipe's 468-point face mesh, run batched on rotated face crops (ONNX Runtime)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facelens.detection.align import warp_crop
from facelens.models.onnx_model import OnnxModel

# Mesh indices (subject's left/right: "left" lies on the image's right in a frontal photo).
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)  # outer, inner
NOSE_TIP = 1
MOUTH_RIGHT, MOUTH_LEFT = 61, 291


@dataclass
class MeshResult:
    landmarks: np.ndarray  # (N, 468, 3) float32: x, y in image pixels, z in the same pixel scale
    scores: np.ndarray  # (N,) float32 in [0, 1]: the mesh's own "this is a face" confidence
    transforms: np.ndarray  # (N, 2, 3) the image→crop affine used for each face


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """(N, 468, 2+) → (N, 2, 2): subject's right then left eye centre (mid-corner points)."""
    xy = landmarks[..., :2]
    return np.stack([xy[:, RIGHT_EYE_CORNERS].mean(1), xy[:, LEFT_EYE_CORNERS].mean(1)], 1)


class FaceMesh(OnnxModel):
    """468 landmarks per face from a detector box and its two eye keypoints.

    The crop is MediaPipe's face-landmark ROI: a square centred on the detector box, side
    `scale`× the box's longer side, rotated so the eye line is horizontal.
    """

    file_name = "facemesh.onnx"
    input_size = 192
    scale = 1.5  # MediaPipe face_detection → face_landmark ROI enlargement

    def transforms(
        self, boxes: np.ndarray, right_eyes: np.ndarray, left_eyes: np.ndarray
    ) -> np.ndarray:
        """(N, 2, 3) affines mapping image pixels onto the upright input_size² crops."""
        size = self.input_size
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        side = np.max(boxes[:, 2:] - boxes[:, :2], axis=1) * self.scale
        eye = left_eyes - right_eyes  # subject's right → left eye runs left → right when upright
        angle = np.arctan2(eye[:, 1], eye[:, 0])
        cos, sin = np.cos(angle) * size / side, np.sin(angle) * size / side
        # q = R(-angle)·s·(p - centre) + size/2
        rot = np.stack([np.stack([cos, sin], 1), np.stack([-sin, cos], 1)], 1)
        shift = size / 2 - np.einsum("nij,nj->ni", rot, centre)
        return np.concatenate([rot, shift[:, :, None]], 2)

    def crop(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """One warped crop; big faces are area-averaged first to avoid aliasing."""
        return warp_crop(image, matrix, self.input_size, oversample=1.5, margin=1)

    def predict(
        self, image: np.ndarray, boxes: np.ndarray, right_eyes: np.ndarray, left_eyes: np.ndarray
    ) -> MeshResult:
        """Mesh for every face of one RGB uint8 image, given detector boxes (N, 4 xyxy) and the
        subject's right/left eye keypoints (N, 2 each), all in image pixels."""
        n = len(boxes)
        if n == 0:
            return MeshResult(
                np.zeros((0, 468, 3), np.float32), np.zeros(0, np.float32), np.zeros((0, 2, 3))
            )
        mats = self.transforms(
            np.asarray(boxes, np.float64),
            np.asarray(right_eyes, np.float64),
            np.asarray(left_eyes, np.float64),
        )
        crops = np.stack([self.crop(image, m) for m in mats]).astype(np.float32) / 255.0
        outputs = dict(zip(self.output_names, self.run(crops), strict=True))
        mesh = outputs["output_mesh"].reshape(n, 468, 3).astype(np.float64)
        inverse = np.stack([cv2.invertAffineTransform(m) for m in mats])
        xy = np.einsum("nij,nkj->nki", inverse[:, :, :2], mesh[..., :2]) + inverse[:, None, :, 2]
        z = mesh[..., 2:] * np.sqrt(np.abs(np.linalg.det(inverse[:, :, :2])))[:, None, None]
        landmarks = np.concatenate([xy, z], 2).astype(np.float32)
        scores = outputs["output_faceflag"].reshape(n).astype(np.float32)
        return MeshResult(landmarks, scores, mats)
