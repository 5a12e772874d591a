"""Face finding: a detector's boxes and five points, refined by the 468-point face mesh.

Two detection designs share one result (FoundFaces):
- "yunet": YuNet at (close to) the photo's own scale finds faces from about 10 px to the
  whole frame, frontal to full profile; the mesh runs on every candidate (one batch) and is
  a second opinion for YuNet's less sure faces. Where the mesh does not recognise a face YuNet
  is sure of (full profiles), the face is kept: YuNet's five points stand, and the mesh is
  moved onto them so everything downstream (alignment, quality, attributes) still gets a mesh
  that agrees with the points.
- "blazeface": BlazeFace front (128 px, selfie range), kept only where the mesh agrees it is
  a face; tiles for small faces.
Figures for both: `facelens eval detection` (facelens/eval/detection_scenes.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from facelens.budget import DEFAULT_BUDGET
from facelens.detection.blazeface import BlazeFace, Detections, detector
from facelens.detection.facemesh import FaceMesh
from facelens.detection.landmarks import five_points
from facelens.detection.names import DEFAULT_DETECTOR, DETECTORS
from facelens.detection.yunet import YuNet
from facelens.models.onnx_model import shared

# The mesh's own face confidence rejects BlazeFace false positives (background texture);
# on 2,000 LFW faces it was >= 0.5 for every real face and ~1e-5 on blank crops.
MIN_MESH_SCORE = 0.5
# A single BlazeFace pass over a big photo can miss small faces; when it finds none, tile.
TILE_RETRY_MIN_SIDE = 256
# YuNet's faces are kept with a score >= YUNET_MIN_SCORE when the mesh agrees it is a face
# (mesh score >= MIN_MESH_SCORE), and >= YUNET_SURE_SCORE on YuNet's word alone (full profiles,
# where the mesh fails). Chosen on constructed scenes (seed 0) and CFP-dev profiles: a raised
# hand scores 0.63 with YuNet and 0.001 with the mesh; the lowest-scored real faces are small
# (0.5-0.6, mesh >= 0.5); the profiles the mesh does not recognise score from 0.61 up.
YUNET_MIN_SCORE = 0.5
YUNET_SURE_SCORE = 0.7
# The mesh was made for MediaPipe's ROI around BlazeFace's square box. It is placed from
# YuNet's five points, not its box: on 193 LFW photos BlazeFace's box centre lies 0.625 of the
# way from the eyes' midpoint to the mouth's and its side is 2.425 × that distance (medians).
# YuNet's box was the first choice (side 0.858 × its longer side): it shrinks where the face
# fills the photo (CFP's tight crops), which put the mesh's eyes up to a quarter of the eye
# distance low; from the points the mesh lands within 1.2% (median) of the BlazeFace
# pipeline's on CFP frontal photos (box: 6.9%) and within 3.1% on LFW (box: 2.6%).
MESH_ROI_CENTRE = 0.625
MESH_ROI_SIDE = 2.425
# YuNet's points (image-left eye first) in five_points order (the subject's left eye first).
YUNET_TO_FIVE = [1, 0, 2, 4, 3]


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


def mesh_boxes(points: np.ndarray) -> np.ndarray:
    """YuNet's five points (N, 5, 2: eyes, nose, mouth corners) → the BlazeFace-like square
    boxes the mesh's ROI expects."""
    eyes = (points[:, 0] + points[:, 1]) / 2
    mouth = (points[:, 3] + points[:, 4]) / 2
    centre = eyes + MESH_ROI_CENTRE * (mouth - eyes)
    half = MESH_ROI_SIDE * np.linalg.norm(mouth - eyes, axis=1, keepdims=True) / 2
    half = np.maximum(half, 1.0)  # a degenerate candidate still gets a (failing) mesh
    return np.concatenate([centre - half, centre + half], 1)


def snap_mesh(mesh: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Move each (468, 3) mesh by the affine map that best takes (least squares) its five
    points onto `points` (N, 5, 2): the mesh's shape, the detector's placement. Affine, not
    a similarity: a turned head foreshortens the face sideways."""
    out = mesh.copy()
    for i, (source, target) in enumerate(zip(five_points(mesh), points, strict=True)):
        design = np.concatenate([source, np.ones((len(source), 1), source.dtype)], 1)
        solution, _, rank, _ = np.linalg.lstsq(design, target, rcond=None)
        if rank < 3:
            continue
        matrix = solution.T  # (2, 3)
        out[i, :, :2] = mesh[i, :, :2] @ matrix[:, :2].T + matrix[:, 2]
        out[i, :, 2] *= np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    return out


class FaceDetector:
    """Detector + mesh. `tiles` looks harder for small faces (BlazeFace: a tiles×tiles grid,
    ≈5× the cost at 2; YuNet: tiles× the input resolution, at most the photo's own)."""

    _instances: ClassVar[dict[str, FaceDetector]] = {}
    _lock = threading.Lock()

    def __init__(self, kind: str = DEFAULT_DETECTOR) -> None:
        if kind not in DETECTORS:
            raise ValueError(f"unknown detector {kind!r}; choose one of {DETECTORS}")
        self.kind = kind
        self.boxes_model: BlazeFace | YuNet = (
            shared(YuNet) if kind == "yunet" else detector("front")  # type: ignore[assignment]
        )
        self.mesh_model = shared(FaceMesh)
        assert isinstance(self.mesh_model, FaceMesh)

    @classmethod
    def shared(cls, kind: str = DEFAULT_DETECTOR) -> FaceDetector:
        with cls._lock:
            if kind not in cls._instances:
                cls._instances[kind] = cls(kind)
            return cls._instances[kind]

    def candidates(self, rgb: np.ndarray, tiles: int | None, largest: bool = False) -> Detections:
        """Detector output, best first, at most the budget's faces; keypoints (N, K, 2)."""
        model = self.boxes_model
        if isinstance(model, YuNet):  # self.kind == "yunet", narrowed for the type checker
            side = min(model.max_side * (tiles or 1), DEFAULT_BUDGET.max_detector_side)
            sure = YUNET_SURE_SCORE if largest and tiles is None else None
            found = model.detect(rgb, side, YUNET_MIN_SCORE, largest_sure=sure)
        else:
            found = model.detect(rgb, tiles=tiles or 1)
            if tiles is None and len(found) == 0 and max(rgb.shape[:2]) >= TILE_RETRY_MIN_SIDE:
                found = model.detect(rgb, tiles=2)
        return found.take(np.argsort(-found.scores, kind="stable")[: DEFAULT_BUDGET.max_faces])

    def detect(
        self, rgb: np.ndarray, tiles: int | None = None, largest: bool = False
    ) -> FoundFaces:
        """tiles=None: the detector's default pass (BlazeFace: tiled if nothing was found).
        largest: only the largest face is wanted; YuNet may then return just it and the
        faces at least half its size (faster on big photos: see YuNet.detect)."""
        found = self.candidates(rgb, tiles, largest)
        yunet = self.kind == "yunet"
        # the subject's right eye (image-left) then left eye, in both detectors' orders
        mesh = self.mesh_model.predict(
            rgb,
            mesh_boxes(found.keypoints) if yunet else found.boxes,
            found.keypoints[:, 0],
            found.keypoints[:, 1],
        )
        landmarks, points = mesh.landmarks, five_points(mesh.landmarks)
        if yunet:
            keep = (mesh.scores >= MIN_MESH_SCORE) | (found.scores >= YUNET_SURE_SCORE)
            failed = mesh.scores < MIN_MESH_SCORE
            yunet_points = found.keypoints[:, YUNET_TO_FIVE]
            points[failed] = yunet_points[failed]
            landmarks[failed] = snap_mesh(landmarks[failed], yunet_points[failed])
        else:
            keep = mesh.scores >= MIN_MESH_SCORE
        boxes = found.boxes[keep]
        order = np.argsort(
            -(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable"
        )
        return FoundFaces(
            boxes=boxes[order],
            scores=found.scores[keep][order],
            points=points[keep][order],
            mesh=landmarks[keep][order],
            mesh_scores=mesh.scores[keep][order],
        )
