"""A track's best-looking views, kept as small crops (never whole frames) until it ends.

Quality and attributes are too costly for every frame, so each detection gets a cheap view
score (detector confidence × size × frontality from the five points) and a track keeps its
KEEP best views; when it ends, quality picks the best of them (video/summarize.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facelens.detection.detector import FoundFaces

# Each kept view costs quality (two dlib embeddings) and attributes at the track's end: on
# short_hamilton_clip.mp4 5 views took 39 ms of CPU a frame in all, 3 views 31 (video_bench).
KEEP = 3
GOOD_SIDE = 100.0  # px: a face this big is big enough (dlib's chip is 150 px)
MARGIN = 0.6  # of the box side, around the face: alignment and attribute crops reach past it


@dataclass
class View:
    frame: int
    time: float
    score: float
    crop: np.ndarray  # RGB around the face
    face: FoundFaces  # the one face, in crop coordinates
    offset: np.ndarray  # (x, y) of the crop in the frame


def view_score(box: np.ndarray, points: np.ndarray, confidence: float) -> float:
    """Confidence × min(1, side / GOOD_SIDE) × frontality (nose on the eyes' midline)."""
    side = float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 0.0)))
    eye_a, eye_b, nose = points[0], points[1], points[2]
    across = eye_a - eye_b
    spacing = float(np.linalg.norm(across)) or 1.0
    off_centre = abs(float(np.dot(nose - (eye_a + eye_b) / 2, across / spacing))) / spacing
    frontal = float(np.clip(1.0 - 2.0 * off_centre, 0.1, 1.0))
    return confidence * min(1.0, side / GOOD_SIDE) * frontal


def crop_view(
    rgb: np.ndarray, found: FoundFaces, index: int
) -> tuple[np.ndarray, FoundFaces, np.ndarray]:
    """The face `index` with a margin, and its geometry moved into the crop's coordinates."""
    box = found.boxes[index]
    pad = MARGIN * max(box[2] - box[0], box[3] - box[1])
    height, width = rgb.shape[:2]
    x0, y0 = int(max(box[0] - pad, 0)), int(max(box[1] - pad, 0))
    x1, y1 = int(min(box[2] + pad, width)), int(min(box[3] + pad, height))
    shift = np.array([x0, y0], np.float32)
    mesh = found.mesh[index : index + 1].copy()
    mesh[..., :2] -= shift
    face = FoundFaces(
        boxes=found.boxes[index : index + 1] - np.tile(shift, 2),
        scores=found.scores[index : index + 1],
        points=found.points[index : index + 1] - shift,
        mesh=mesh,
        mesh_scores=found.mesh_scores[index : index + 1],
    )
    return rgb[y0:y1, x0:x1].copy(), face, shift


class Views:
    """The KEEP best views of one track."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self.items: list[View] = []

    def wants(self, score: float) -> bool:
        return len(self.items) < self.keep or score > min(v.score for v in self.items)

    def offer(
        self,
        rgb: np.ndarray,
        found: FoundFaces,
        index: int,
        frame: int,
        time: float,
    ) -> None:
        score = view_score(found.boxes[index], found.points[index], float(found.scores[index]))
        if not self.wants(score):
            return
        crop, face, offset = crop_view(rgb, found, index)
        self.items.append(View(frame, time, score, crop, face, offset))
        self.items.sort(key=lambda v: -v.score)
        del self.items[self.keep :]
