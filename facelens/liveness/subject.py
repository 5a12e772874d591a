"""The subject of a liveness check: the most prominent face track, and its signals.

Only the largest face of each frame is measured (the person at the camera); its signals are
kept by track id, and the subject is the track with the largest sum of face sides (size ×
time seen), so a passer-by or a face on a poster behind the subject does not take over.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from facelens.detection.detector import FoundFaces
from facelens.liveness.signals import FaceSignal, measure


class SubjectSignals:
    def __init__(self) -> None:
        self.by_track: dict[int, list[FaceSignal]] = defaultdict(list)
        self.frames = 0  # analysed frames, with or without a face

    def add(
        self, rgb: np.ndarray, found: FoundFaces, track_ids: list[int], frame: int, time: float
    ) -> FaceSignal | None:
        """Measure the largest face of one frame (None when there is none)."""
        self.frames += 1
        if not len(found):
            return None
        sides = (found.boxes[:, 2] - found.boxes[:, 0]) * (found.boxes[:, 3] - found.boxes[:, 1])
        index = int(np.argmax(sides))
        signal = measure(rgb, found, index, frame, time, track_ids[index])
        self.by_track[signal.track_id].append(signal)
        return signal

    def subject(self) -> list[FaceSignal]:
        """The signals of the most prominent track, in time order ([] when no face)."""
        if not self.by_track:
            return []
        best = max(self.by_track.values(), key=lambda s: sum(x.side for x in s))
        return best
