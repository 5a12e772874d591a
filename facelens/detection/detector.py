"""Face finding: BlazeFace boxes, refined by the 468-point mesh into five landmarks."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from facelens.budget import DEFAULT_BUDGET
from facelens.detection.blazeface import BlazeFace, detector
from facelens.detection.facemesh import FaceMesh
from facelens.detection.landmarks import five_points
from facelens.models.onnx_model import shared

# The mesh's own face confidence rejects detector false positives (background texture);
# on 2,000 LFW faces it was >= 0.5 for every real face and ~1e-5 on blank crops.
MIN_MESH_SCORE = 0.5
# A single pass over a big photo can miss small faces; when it finds none, tile.
TILE_RETRY_MIN_SIDE = 256


@dataclass
class FoundFaces:
    """Faces of one image, largest first; arrays are aligned by face."""

    boxes: np.ndarray  # (N, 4) xyxy image pixels
    scores: np.ndarray  # (N,) detector confidence
    points: np.ndarray  # (N, 5, 2) LANDMARK_NAMES order
    mesh: np.ndarray  # (N, 468, 3)
    mesh_scores: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.boxes)


class FaceDetector:
    """Detector + mesh. `tiles=2` looks harder for small faces in group photos (≈5× cost)."""

    _instance: FaceDetector | None = None
    _lock = threading.Lock()

    def __init__(self, variant: str = "front") -> None:
        self.boxes_model: BlazeFace = detector(variant)
        self.mesh_model = shared(FaceMesh)
        assert isinstance(self.mesh_model, FaceMesh)

    @classmethod
    def shared(cls) -> FaceDetector:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def detect(self, rgb: np.ndarray, tiles: int | None = None) -> FoundFaces:
        """tiles=None: one pass, then a tiled pass if nothing was found in a big photo."""
        found = self.boxes_model.detect(rgb, tiles=tiles or 1)
        if tiles is None and len(found) == 0 and max(rgb.shape[:2]) >= TILE_RETRY_MIN_SIDE:
            found = self.boxes_model.detect(rgb, tiles=2)
        found = found.take(np.argsort(-found.scores, kind="stable")[: DEFAULT_BUDGET.max_faces])
        # keypoint order: right eye, left eye (subject's), nose, mouth, ears
        mesh = self.mesh_model.predict(
            rgb, found.boxes, found.keypoints[:, 0], found.keypoints[:, 1]
        )
        keep = mesh.scores >= MIN_MESH_SCORE
        boxes = found.boxes[keep]
        order = np.argsort(
            -(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable"
        )
        landmarks = mesh.landmarks[keep][order]
        return FoundFaces(
            boxes=boxes[order],
            scores=found.scores[keep][order],
            points=five_points(landmarks),
            mesh=landmarks,
            mesh_scores=mesh.scores[keep][order],
        )
