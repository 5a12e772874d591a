"""A live liveness check: the client (the web page) sends camera frames one by one and gets
the state back each time: the faces with track ids, the prompt to show, the verdict so far.

Time is the server's own clock from the session's start (a client cannot stretch the limits);
the challenge starts at the first frame with a face. The session is done when a step fails
or all pass, or when the whole challenge's time (steps × step_seconds + GRACE_SECONDS) is up.
"""

from __future__ import annotations

import secrets
import time

import numpy as np

from facelens.liveness.challenge import STEP_SECONDS, check_actions, random_challenge
from facelens.liveness.clip import liveness_of
from facelens.liveness.subject import SubjectSignals
from facelens.types import LivenessSession, TrackedFace
from facelens.video.analysis import tracked_faces
from facelens.video.tracker import Tracker

GRACE_SECONDS = 3.0  # after the last step's time: for a face that came late
MAX_FRAMES = 900  # a session takes at most this many frames (30 s at 30 frames/s)
MISSES = 10  # frames a face may be unseen before its track ends


class LiveCheck:
    def __init__(
        self,
        lens,
        challenge: list[str] | None = None,
        step_seconds: float = STEP_SECONDS,
        clock=time.monotonic,
    ) -> None:
        self.lens, self.clock = lens, clock
        self.actions = check_actions(challenge) if challenge else random_challenge()
        self.step_seconds = step_seconds
        self.session_id = secrets.token_urlsafe(12)
        self.started = clock()
        self.tracker = Tracker(max_misses=MISSES)
        self.subject = SubjectSignals()
        self.challenge_start: float | None = None
        self.frames = 0
        self.state = self._state(0.0, [])

    @property
    def time_limit(self) -> float:
        """Session seconds after which the check ends, decided or not."""
        start = self.challenge_start or 0.0
        return start + len(self.actions) * self.step_seconds + GRACE_SECONDS

    def add(self, rgb: np.ndarray) -> LivenessSession:
        """One camera frame (RGB): detect, track, measure, judge so far."""
        now = self.clock() - self.started
        if self.state.done:
            return self.state
        self.frames += 1
        found = self.lens.detector.detect(rgb)
        owners, _ = self.tracker.update(found.boxes, self.frames, now)
        seen = self.subject.add(rgb, found, [t.track_id for t in owners], self.frames, now)
        if seen and self.challenge_start is None:
            self.challenge_start = now
        self.state = self._state(now, tracked_faces(found, owners))
        return self.state

    def _state(self, now: float, faces: list[TrackedFace]) -> LivenessSession:
        signals = self.subject.subject()
        start = self.challenge_start if self.challenge_start is not None else now
        result = liveness_of(signals, self.actions, now, self.step_seconds, start)
        steps = result.challenge
        pending = [s.action for s in steps if s.status == "pending"]
        statuses = [s.status for s in steps]
        # Every step passed is not yet a verdict when too little of the face was seen (a
        # quick turn can pass within a second): keep watching until the cues decide.
        passed = all(s == "passed" for s in statuses)
        decided = "failed" in statuses or (passed and result.verdict != "undecided")
        done = decided or now >= self.time_limit or self.frames >= MAX_FRAMES
        if done and result.verdict == "undecided" and not decided:
            result.reasons.append("the time for the check is up")
        return LivenessSession(
            session_id=self.session_id,
            challenge=self.actions,  # type: ignore[arg-type]
            step_seconds=self.step_seconds,
            time=round(now, 3),
            prompt=None if done or not pending else pending[0],  # type: ignore[arg-type]
            faces=faces,
            done=done,
            liveness=result,
        )
