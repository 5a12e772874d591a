"""Liveness of a clip (file, camera or stream): `FaceLens().liveness(source, challenge)`.

Frames come from the video path (facelens.video: reading, budgets, tracking by box); the
subject's signals are measured per analysed frame and judged once the clip ends. A challenge
given for a clip is the order in which the person was asked, from the clip's start,
STEP_SECONDS each.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from facelens.liveness.challenge import STEP_SECONDS, check_actions, judge
from facelens.liveness.signals import FaceSignal
from facelens.liveness.subject import SubjectSignals
from facelens.liveness.verdict import decide
from facelens.types import Liveness

if TYPE_CHECKING:
    from facelens.lens import FaceLens
    from facelens.video.source import VideoSource

MAX_SECONDS = 30.0  # a camera or stream is read this long when no duration is given


def clip_signals(
    lens: FaceLens,
    source: VideoSource,
    every: int = 1,
    duration: float | None = None,
    name: str | None = None,
) -> tuple[list[FaceSignal], int, float]:
    """(the subject's signals, frames read, time of the last analysed frame); `name` names
    the source in errors (FrameSource)."""
    from facelens.video.analysis import VideoAnalysis

    analysis = VideoAnalysis(
        lens,
        source,
        every,
        duration=duration,
        quality=False,
        attributes=False,
        embed=False,
        name=name,
    )
    if analysis.frames.kind != "file" and duration is None:
        analysis.frames.duration = MAX_SECONDS
    subject = SubjectSignals()
    last_time = 0.0
    with analysis:
        for frame in analysis:
            found, rgb = analysis.current_found, analysis.current_rgb
            assert found is not None and rgb is not None
            track_ids = [face.track_id for face in frame.faces]
            subject.add(rgb, found, track_ids, frame.index, frame.time)
            last_time = frame.time
    return subject.subject(), analysis.frames.frames_read, last_time


def liveness_of(
    signals: list[FaceSignal],
    actions: list[str] | None,
    now: float,
    step_seconds: float = STEP_SECONDS,
    start: float = 0.0,
) -> Liveness:
    """The verdict on the subject's signals, with the challenge `actions` asked from `start`."""
    steps = judge(signals, actions, start, now, step_seconds) if actions else []
    verdict, reasons, figures, evidence = decide(signals, steps)
    return Liveness(
        verdict=verdict,  # type: ignore[arg-type]
        reasons=reasons,
        track_id=signals[0].track_id if signals else None,
        cues=figures,
        challenge=steps,
        evidence=evidence,
    )


def check_clip(
    lens: FaceLens,
    source: VideoSource,
    challenge: list[str] | None = None,
    every: int = 1,
    duration: float | None = None,
    step_seconds: float = STEP_SECONDS,
    name: str | None = None,
) -> Liveness:
    started = time.perf_counter()
    actions = check_actions(challenge) if challenge else None
    signals, frames_read, last_time = clip_signals(lens, source, every, duration, name)
    result = liveness_of(signals, actions, last_time, step_seconds)
    result.frames_read = frames_read
    result.seconds = round(time.perf_counter() - started, 3)
    return result
