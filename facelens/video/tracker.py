"""Face tracks: detections of consecutive analysed frames joined by box motion first, and by
embedding only where boxes cannot decide.

Per frame, three steps:
1. Overlap: each face is matched to a live track by one optimal assignment (SciPy's
   linear_sum_assignment) on cost 1 − IoU, the IoU taken against the track's box moved by its
   recent velocity (constant velocity), a pair allowed when IoU ≥ MIN_IOU and the face's size
   is within MAX_SCALE_STEP of the track's (a big face leaving the frame must not hand its
   track to a small face behind it, as in the clip's frames 40-55).
2. Ambiguity: where a face overlaps several tracks' predictions, or a track several faces,
   about as well (IoU within AMBIGUOUS_MARGIN: crossing faces), those faces are embedded
   and their cost becomes
   (1 − IoU) + COS_WEIGHT·(1 − cosine) with the tracks' embeddings.
3. Re-link: a face left over would start a new track; it is embedded first, and joins a
   track not matched in this frame (lost within the miss window, or moved too fast to
   overlap) when their embeddings agree (cosine ≥ REID_COSINE) and it is within REID_REACH
   box sides of where the track was. Only then does a new track start, keeping that
   embedding as its own.
4. Identity (when the tracker is given `reid_misses`): a track unseen longer than the miss
   window stays dormant up to `reid_misses` frames, and a face left over joins it on the
   recogniser's word alone, wherever it is: both the face and the track's last box at least
   REID_MIN_SIDE px, cosine ≥ `reid_cosine` (the caller's: the embedder's FMR 1e-3 point in
   video analysis). A cut ends dormant tracks too.
So a face is embedded when its track starts and when boxes are ambiguous, not every frame.
The embedding only joins faces that are also near: on short_hamilton_clip.mp4 dlib's
embedding of small, blurred audience faces does not tell them apart (the same face in
consecutive frames scored cosine 0.89-1.00, median 0.995; different faces up to 0.978), nor
does the fused pair (different faces of its profile shot, at most 82 px: 0.82-0.83), hence
REID_MIN_SIDE for step 4.
Without `embed` (update(..., embed=None)) steps 2 and 3 are skipped: overlap alone.

Libraries measured first: norfair and roboflow's trackers would pin NumPy < 2 or pull a
second OpenCV (with GUI) and matplotlib into the install; this is SciPy and NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

MIN_IOU = 0.1
REID_COSINE = 0.95
REID_REACH = 2.0
COS_WEIGHT = 2.0
AMBIGUOUS_MARGIN = 0.3  # IoU: a rival pairing this close to the best one is a real doubt
MAX_SCALE_STEP = 1.5  # box side ratio between a track's last box and a new face
EMBEDDING_MOMENTUM = 0.8  # share of the track's embedding kept at each new embedding
VELOCITY_MOMENTUM = 0.5
NOT_ALLOWED = 1e6
REID_MIN_SIDE = 100.0  # px: faces big enough for their embeddings to tell people apart

# this frame's face indices → their embeddings (len(indices), D), L2-normalised
Embed = Callable[[list[int]], np.ndarray]


@dataclass
class TrackState:
    """A live track; `payload` is the caller's (the best-view candidates)."""

    track_id: int
    box: np.ndarray  # xyxy at the last detection
    embedding: np.ndarray | None  # None when tracking without embeddings
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


class _Embeddings:
    """This frame's embeddings, each face's computed at most once, on demand."""

    def __init__(self, embed: Embed | None) -> None:
        self.embed = embed
        self.known: dict[int, np.ndarray] = {}

    def of(self, faces: list[int]) -> dict[int, np.ndarray]:
        missing = [d for d in faces if d not in self.known]
        if self.embed is not None and missing:
            self.known.update(zip(missing, self.embed(missing), strict=True))
        return {d: self.known[d] for d in faces if d in self.known}


class Tracker:
    """update() once per analysed frame; tracks missed more than max_misses frames end, or
    with step 4 on, wait dormant until reid_misses if their face is big enough."""

    def __init__(
        self, max_misses: int = 15, reid_misses: int = 0, reid_cosine: float = 1.0
    ) -> None:
        """reid_misses > max_misses turns on step 4 (identity re-link of dormant tracks)."""
        self.max_misses, self.reid_misses, self.reid_cosine = max_misses, reid_misses, reid_cosine
        self.live: list[TrackState] = []
        self.dormant: list[TrackState] = []
        self.next_id = 1

    def update(
        self, boxes: np.ndarray, frame: int, time: float, embed: Embed | None = None
    ) -> tuple[list[TrackState], list[TrackState]]:
        """Join this frame's faces (xyxy boxes) to tracks: (the track of each face, the tracks
        that ended). `embed` is called only for the faces that need an embedding."""
        embeddings = _Embeddings(embed)
        pairs = self._by_overlap(boxes, embeddings)
        pairs += self._relink(boxes, embeddings, pairs)
        for track, d in self._reidentify(boxes, embeddings, {d for _, d in pairs}):
            self.dormant.remove(track)
            track.velocity[:] = 0  # its motion before the gap says nothing now
            self.live.append(track)
            pairs.append((len(self.live) - 1, d))
        assigned: list[TrackState | None] = [None] * len(boxes)
        for t, d in pairs:
            self._extend(self.live[t], boxes[d], embeddings.known.get(d), frame, time)
            assigned[d] = self.live[t]
        matched = {t for t, _ in pairs}
        for index, track in enumerate(self.live):
            if index not in matched:
                track.misses += 1
        for track in self.dormant:
            track.misses += 1
        ended = [t for t in self.dormant if t.misses > self.reid_misses]
        self.dormant = [t for t in self.dormant if t.misses <= self.reid_misses]
        for track in [t for t in self.live if t.misses > self.max_misses]:
            self.live.remove(track)
            (self.dormant if self._may_return(track) else ended).append(track)
        for track in ended:
            track.end = "lost"
        new = [d for d, track in enumerate(assigned) if track is None]
        own = embeddings.of(new)
        for d in new:
            assigned[d] = self._start(boxes[d], own.get(d), frame, time)
        return [t for t in assigned if t is not None], ended

    def end_all(self, reason: str) -> list[TrackState]:
        ended, self.live, self.dormant = self.live + self.dormant, [], []
        for track in ended:
            track.end = reason
        return ended

    def _start(
        self, box: np.ndarray, embedding: np.ndarray | None, frame: int, time: float
    ) -> TrackState:
        track = TrackState(
            self.next_id, box.astype(np.float32), embedding, frame, time, frame, time
        )
        self.next_id += 1
        self.live.append(track)
        return track

    @staticmethod
    def _extend(
        track: TrackState, box: np.ndarray, embedding: np.ndarray | None, frame: int, time: float
    ) -> None:
        step = (box - track.box) / (track.misses + 1)
        track.velocity = VELOCITY_MOMENTUM * track.velocity + (1 - VELOCITY_MOMENTUM) * step
        track.box = box.astype(np.float32)
        if embedding is not None:
            if track.embedding is None:
                track.embedding = embedding
            else:
                mixed = EMBEDDING_MOMENTUM * track.embedding + (1 - EMBEDDING_MOMENTUM) * embedding
                track.embedding = mixed / np.linalg.norm(mixed)
        track.last_frame, track.last_time, track.misses = frame, time, 0
        track.detections += 1

    def _by_overlap(self, boxes: np.ndarray, embeddings: _Embeddings) -> list[tuple[int, int]]:
        if not self.live or not len(boxes):
            return []
        predicted = np.stack([t.predicted() for t in self.live])
        overlap = iou_matrix(predicted, boxes)
        allowed = (overlap >= MIN_IOU) & self._similar_size(boxes)
        cost = 1 - overlap
        ambiguous = embeddings.of([int(d) for d in np.flatnonzero(_contested(overlap, allowed))])
        for d, embedding in ambiguous.items():
            for t, track in enumerate(self.live):
                if track.embedding is not None:
                    cost[t, d] += COS_WEIGHT * (1 - float(track.embedding @ embedding))
        return _solve(np.where(allowed, cost, NOT_ALLOWED), allowed)

    def _relink(
        self, boxes: np.ndarray, embeddings: _Embeddings, pairs: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        if embeddings.embed is None:
            return []
        taken_tracks, taken_faces = {t for t, _ in pairs}, {d for _, d in pairs}
        tracks = [
            t
            for t, track in enumerate(self.live)
            if t not in taken_tracks and track.embedding is not None
        ]
        faces = [d for d in range(len(boxes)) if d not in taken_faces]
        if not tracks or not faces:
            return []
        last = np.stack([self.live[t].box for t in tracks])
        side = _sides(last)
        distance = np.linalg.norm(_centres(last)[:, None] - _centres(boxes[faces])[None], axis=-1)
        near = (distance <= REID_REACH * side[:, None]) & self._similar_size(boxes[faces], tracks)
        if not near.any():
            return []
        found = embeddings.of(faces)  # embedded either way: they join a track or start one
        mine = np.stack([self.live[t].embedding for t in tracks])  # type: ignore[misc]
        theirs = np.stack([found[d] for d in faces])
        cosine = mine @ theirs.T
        allowed = near & (cosine >= REID_COSINE)
        pairs_here = _solve(np.where(allowed, 1 - cosine, NOT_ALLOWED), allowed)
        return [(tracks[r], faces[c]) for r, c in pairs_here]

    def _may_return(self, track: TrackState) -> bool:
        """Whether a track past the miss window waits, dormant, for step 4."""
        return (
            self.reid_misses > track.misses
            and track.embedding is not None
            and float(_sides(track.box[None])[0]) >= REID_MIN_SIDE
        )

    def _reidentify(
        self, boxes: np.ndarray, embeddings: _Embeddings, taken: set[int]
    ) -> list[tuple[TrackState, int]]:
        """Step 4: faces left over that the recogniser says are a dormant track's person."""
        if embeddings.embed is None or not self.dormant:
            return []
        sides = _sides(boxes)
        faces = [d for d in range(len(boxes)) if d not in taken and sides[d] >= REID_MIN_SIDE]
        if not faces:
            return []
        found = embeddings.of(faces)  # embedded either way: they join a track or start one
        mine = np.stack([t.embedding for t in self.dormant])  # type: ignore[misc]
        cosine = mine @ np.stack([found[d] for d in faces]).T
        allowed = cosine >= self.reid_cosine
        pairs = _solve(np.where(allowed, 1 - cosine, NOT_ALLOWED), allowed)
        return [(self.dormant[r], faces[c]) for r, c in pairs]

    def _similar_size(self, boxes: np.ndarray, tracks: list[int] | None = None) -> np.ndarray:
        chosen = self.live if tracks is None else [self.live[t] for t in tracks]
        side = _sides(np.stack([t.box for t in chosen]))
        scale = _sides(boxes)[None] / side[:, None]
        return (scale <= MAX_SCALE_STEP) & (scale >= 1 / MAX_SCALE_STEP)


def _contested(overlap: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """(faces,) whether a face's track is not clear from overlap: another track overlaps it
    within AMBIGUOUS_MARGIN of its best, or its best track has such a second face."""
    iou = np.where(allowed, overlap, -1.0)
    close = allowed & (iou >= iou.max(0, keepdims=True) - AMBIGUOUS_MARGIN)
    close_too = allowed & (iou >= iou.max(1, keepdims=True) - AMBIGUOUS_MARGIN)
    return (close.sum(0) > 1) | ((close_too.sum(1) > 1)[:, None] & close_too).any(0)


def _solve(cost: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if allowed[r, c]]


def _sides(boxes: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip((boxes[:, 2:] - boxes[:, :2]).prod(-1), 0, None))


def _centres(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, :2] + boxes[:, 2:]) / 2
