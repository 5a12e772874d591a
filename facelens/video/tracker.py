"""Face tracks: detections of consecutive analysed frames joined by box overlap and embedding.

Each frame's faces are matched to the live tracks by one optimal assignment (SciPy's
linear_sum_assignment) on cost = (1 − IoU) + COS_WEIGHT·(1 − cosine), where IoU is taken
against the track's box moved by its recent velocity. A pair is allowed when the boxes
overlap (IoU ≥ MIN_IOU), or, after a miss or a fast move, when the embeddings agree
(cosine ≥ REID_COSINE) and the face is within REID_REACH box sides of where the track was;
never when the face's size changed by more than MAX_SCALE_STEP (a big face leaving the frame
must not hand its track to a small face behind it, as in the clip's frames 40-55).
Overlap leads because on short_hamilton_clip.mp4 dlib's embedding of small, blurred audience
faces does not tell them apart: the same face in consecutive frames scores cosine 0.89-1.00
(median 0.995), different faces up to 0.978.

Libraries measured first: norfair and roboflow's trackers would pin NumPy < 2 or pull a
second OpenCV (with GUI) and matplotlib into the install; this is 150 lines on SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

MIN_IOU = 0.1
REID_COSINE = 0.95
REID_REACH = 2.0
COS_WEIGHT = 2.0
MAX_SCALE_STEP = 1.5  # box side ratio between a track's last box and a new face
EMBEDDING_MOMENTUM = 0.8  # share of the track's embedding kept at each new detection
VELOCITY_MOMENTUM = 0.5
NOT_ALLOWED = 1e6


@dataclass
class TrackState:
    """A live track; `payload` is the caller's (the best-view candidates)."""

    track_id: int
    box: np.ndarray  # xyxy at the last detection
    embedding: np.ndarray
    first_frame: int
    first_time: float
    last_frame: int
    last_time: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    detections: int = 1
    misses: int = 0  # analysed frames since the last detection
    end: str = "end"
    payload: object = None

    def predicted(self) -> np.ndarray:
        return self.box + self.velocity * (self.misses + 1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of xyxy boxes."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-6)


class Tracker:
    """update() once per analysed frame; tracks missed more than max_misses frames end."""

    def __init__(self, max_misses: int = 15) -> None:
        self.max_misses = max_misses
        self.live: list[TrackState] = []
        self.next_id = 1

    def update(
        self, boxes: np.ndarray, embeddings: np.ndarray, frame: int, time: float
    ) -> tuple[list[TrackState], list[TrackState]]:
        """Join this frame's faces to tracks: (the track of each face, the tracks that ended)."""
        pairs = self._assign(boxes, embeddings)
        assigned: list[TrackState | None] = [None] * len(boxes)
        for t, d in pairs:
            track = self.live[t]
            step = (boxes[d] - track.box) / (track.misses + 1)
            track.velocity = VELOCITY_MOMENTUM * track.velocity + (1 - VELOCITY_MOMENTUM) * step
            track.box = boxes[d].astype(np.float32)
            mixed = EMBEDDING_MOMENTUM * track.embedding + (1 - EMBEDDING_MOMENTUM) * embeddings[d]
            track.embedding = mixed / np.linalg.norm(mixed)
            track.last_frame, track.last_time, track.misses = frame, time, 0
            track.detections += 1
            assigned[d] = track
        matched = {t for t, _ in pairs}
        for index, track in enumerate(self.live):
            if index not in matched:
                track.misses += 1
        ended = [t for t in self.live if t.misses > self.max_misses]
        for track in ended:
            track.end = "lost"
        self.live = [t for t in self.live if t.misses <= self.max_misses]
        for d, track in enumerate(assigned):
            if track is None:
                assigned[d] = self._start(boxes[d], embeddings[d], frame, time)
        return [t for t in assigned if t is not None], ended

    def end_all(self, reason: str) -> list[TrackState]:
        ended, self.live = self.live, []
        for track in ended:
            track.end = reason
        return ended

    def _start(self, box: np.ndarray, embedding: np.ndarray, frame: int, time: float) -> TrackState:
        track = TrackState(
            self.next_id, box.astype(np.float32), embedding, frame, time, frame, time
        )
        self.next_id += 1
        self.live.append(track)
        return track

    def _assign(self, boxes: np.ndarray, embeddings: np.ndarray) -> list[tuple[int, int]]:
        if not self.live or not len(boxes):
            return []
        predicted = np.stack([t.predicted() for t in self.live])
        overlap = iou_matrix(predicted, boxes)
        cosine = np.stack([t.embedding for t in self.live]) @ embeddings.T
        last = np.stack([t.box for t in self.live])
        side = np.sqrt((last[:, 2:] - last[:, :2]).prod(-1))
        distance = np.linalg.norm(_centres(last)[:, None] - _centres(boxes)[None], axis=-1)
        near = distance <= REID_REACH * side[:, None]
        scale = np.sqrt((boxes[:, 2:] - boxes[:, :2]).prod(-1))[None] / side[:, None]
        similar_size = (scale <= MAX_SCALE_STEP) & (scale >= 1 / MAX_SCALE_STEP)
        allowed = ((overlap >= MIN_IOU) | ((cosine >= REID_COSINE) & near)) & similar_size
        cost = np.where(allowed, (1 - overlap) + COS_WEIGHT * (1 - cosine), NOT_ALLOWED)
        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if allowed[r, c]]


def _centres(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, :2] + boxes[:, 2:]) / 2
