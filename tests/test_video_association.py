"""The tracker's association on exact synthetic cases: boxes and embeddings are given, so
which faces get embedded, and which track each face joins, are known exactly."""

from __future__ import annotations

import numpy as np

from facelens.video.tracker import Tracker

SIDE = 40.0
WINDOW = 5  # the tracker's max_misses in these tests


def box(x: float, y: float = 100.0) -> np.ndarray:
    return np.array([x, y, x + SIDE, y + SIDE], np.float32)


def identities(count: int, dimension: int = 64, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dimension))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class Faces:
    """One frame's faces with the person each shows; `embed` records every request and
    answers each person's embedding with a little noise (same person: cosine > 0.98)."""

    def __init__(self, people: np.ndarray, calls: list[tuple[int, list[int]]]) -> None:
        self.people, self.calls, self.rng = people, calls, np.random.default_rng(1)

    def frame(self, frame: int, faces: list[tuple[int, np.ndarray]]):
        boxes = np.stack([b for _, b in faces]) if faces else np.zeros((0, 4), np.float32)

        def embed(indices: list[int]) -> np.ndarray:
            self.calls.append((frame, list(indices)))
            chosen = self.people[[faces[i][0] for i in indices]]
            noisy = chosen + self.rng.normal(scale=0.01, size=chosen.shape)
            return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)

        return boxes, embed


def run(frames: list[list[tuple[int, np.ndarray]]], people: int = 2, use_embed: bool = True):
    """Per frame, the track id of each face (in the frame's order); the embed requests."""
    tracker, calls = Tracker(max_misses=WINDOW), []
    source = Faces(identities(people), calls)
    ids = []
    for index, faces in enumerate(frames):
        boxes, embed = source.frame(index, faces)
        owners, _ = tracker.update(boxes, index, index / 10, embed if use_embed else None)
        ids.append([t.track_id for t in owners])
    return ids, calls


def test_steady_faces_are_embedded_once_when_their_tracks_start():
    frames = [[(0, box(10 + 3 * i)), (1, box(300 - 3 * i))] for i in range(20)]
    ids, calls = run(frames)
    assert all(frame == [1, 2] for frame in ids)
    assert calls == [(0, [0, 1])]


def test_crossing_faces_keep_their_ids_by_embedding_where_boxes_overlap():
    """A moves right and B left, 10 px a frame, on one line: at frame 10 the boxes coincide.
    The detector lists them in no fixed order (here: swapped every third frame, the frame
    where they coincide included: there only the embeddings tell them apart)."""
    frames = []
    for i in range(21):
        faces = [(0, box(10.0 * i)), (1, box(200.0 - 10.0 * i))]
        frames.append(faces[::-1] if i % 3 == 1 else faces)
    ids, calls = run(frames)
    person_to_id = [{p: t for (p, _), t in zip(frames[i], ids[i], strict=True)} for i in range(21)]
    assert all(mapping == person_to_id[0] for mapping in person_to_id)
    assert sorted(person_to_id[0].values()) == [1, 2]
    contested = [frame for frame, _ in calls[1:]]
    # embedded only around the crossing, where the boxes overlap both predictions
    assert contested and all(6 <= frame <= 14 for frame in contested)
    assert calls[0] == (0, [0, 1])


def test_a_face_back_within_the_window_rejoins_its_track_by_embedding():
    """Person 0 stays at x=100, is missed for 3 frames and comes back 1.5 box sides to the
    right (no overlap with where it was): its embedding re-links it."""
    frames = [[(0, box(100))]] * 5 + [[]] * 3 + [[(0, box(100 + 1.5 * SIDE))]] * 3
    ids, calls = run(frames)
    assert ids[:5] == [[1]] * 5 and ids[8:] == [[1]] * 3
    assert calls == [(0, [0]), (8, [0])]  # at its start, and when it came back


def test_another_person_at_that_place_gets_a_new_track():
    frames = [[(0, box(100))]] * 5 + [[]] * 3 + [[(1, box(100 + 1.5 * SIDE))]] * 3
    ids, _ = run(frames)
    assert ids[8:] == [[2]] * 3


def test_a_face_back_after_the_window_gets_a_new_track():
    frames = [[(0, box(100))]] * 5 + [[]] * (WINDOW + 1) + [[(0, box(100))]] * 3
    ids, calls = run(frames)
    assert ids[:5] == [[1]] * 5 and ids[5 + WINDOW + 1 :] == [[2]] * 3
    assert calls == [(0, [0]), (5 + WINDOW + 1, [0])]


def test_without_embeddings_overlap_alone_decides():
    """embed=None (liveness): a short miss at the same place keeps the track; a jump with no
    overlap starts a new one, as no embedding can vouch for it."""
    same_place = [[(0, box(100))]] * 5 + [[]] * 3 + [[(0, box(104))]] * 3
    jumped = [[(0, box(100))]] * 5 + [[]] * 3 + [[(0, box(100 + 1.5 * SIDE))]] * 3
    ids, calls = run(same_place, use_embed=False)
    assert ids[8:] == [[1]] * 3 and calls == []
    ids, _ = run(jumped, use_embed=False)
    assert ids[8:] == [[2]] * 3


BIG = 120.0  # a face big enough for identity re-link (tracker.REID_MIN_SIDE)
DORMANT = 15  # reid_misses in these tests


def big_box(x: float, y: float = 100.0) -> np.ndarray:
    return np.array([x, y, x + BIG, y + BIG], np.float32)


def run_with_identity(frames, people: int = 2, reid_cosine: float = 0.9):
    """As `run`, with step 4 on: dormant tracks wait DORMANT frames for their person."""
    tracker, calls = Tracker(WINDOW, reid_misses=DORMANT, reid_cosine=reid_cosine), []
    source = Faces(identities(people), calls)
    ids, ended = [], []
    for index, faces in enumerate(frames):
        boxes, embed = source.frame(index, faces)
        owners, gone = tracker.update(boxes, index, index / 10, embed)
        ids.append([t.track_id for t in owners])
        ended += [(index, t.track_id) for t in gone]
    return ids, calls, ended, tracker


def test_a_big_face_back_after_the_window_rejoins_its_track_anywhere():
    """Past the miss window, across the frame: the recogniser alone vouches for it."""
    gap = WINDOW + 5
    frames = [[(0, big_box(100))]] * 5 + [[]] * gap + [[(0, big_box(600))]] * 3
    ids, calls, ended, _ = run_with_identity(frames)
    assert ids[5 + gap :] == [[1]] * 3
    assert ended == []  # nothing ended: the track was dormant, then back
    assert calls == [(0, [0]), (5 + gap, [0])]


def test_another_big_face_after_the_window_gets_a_new_track():
    gap = WINDOW + 5
    frames = [[(0, big_box(100))]] * 5 + [[]] * gap + [[(1, big_box(100))]] * 3
    ids, _, _, _ = run_with_identity(frames)
    assert ids[5 + gap :] == [[2]] * 3


def test_small_faces_are_not_re_linked_by_identity():
    """40 px faces end with the miss window, as without step 4 (their embeddings are not
    trusted to tell people apart)."""
    frames = [[(0, box(100))]] * 5 + [[]] * (WINDOW + 5) + [[(0, box(100))]] * 3
    ids, _, ended, _ = run_with_identity(frames)
    assert ids[-1] == [2]
    assert ended == [(5 + WINDOW, 1)]


def test_a_dormant_track_ends_after_its_wait_and_at_a_cut():
    frames = [[(0, big_box(100))]] * 5 + [[]] * (DORMANT + 3)
    _, _, ended, _ = run_with_identity(frames)
    assert ended == [(5 + DORMANT, 1)]  # its misses passed DORMANT at that frame
    frames = [[(0, big_box(100))]] * 5 + [[]] * (WINDOW + 2)
    _, _, ended, tracker = run_with_identity(frames)
    assert ended == [] and [t.track_id for t in tracker.dormant] == [1]
    assert [t.track_id for t in tracker.end_all("cut")] == [1] and tracker.dormant == []
