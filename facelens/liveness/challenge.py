"""The active challenge: prompts in random order (blink, turn left, turn right), each within
a time limit, judged from the subject's signals.

Steps are asked one after the other: the first at the challenge's start, each next one when
the previous is seen done. A turn is done when the yaw passes TURN_DEGREES towards the asked
side for TURN_FRAMES frames in a row after the head was seen frontal, and failed at
once when it passes it the other way (a replay turning at random must not pass by chance);
a blink is a blink (passive.blinks) that starts after the prompt. "left" and "right" are
the subject's own: yaw > 0 is a turn to the subject's left (the image's right, unmirrored).
"""

from __future__ import annotations

import numpy as np

from facelens.errors import ErrorCode, FaceLensError
from facelens.liveness.passive import blinks
from facelens.liveness.signals import FaceSignal
from facelens.types import LivenessStep

ACTIONS = ("blink", "left", "right")
STEP_SECONDS = 5.0
# Each action twice is already a long check (30 s at STEP_SECONDS); longer lists only bloat
# every answer of a live session, which repeats the challenge.
MAX_STEPS = 6
# The mesh under-reads a turn: the speaker's real turn in the shared clip reads 16-28° with
# YuNet's landmarks (mesh placed from its five points), 17-28° with BlazeFace's; its
# frontal moments read up to 11°. 15° sits between (one clip: not validated more widely).
TURN_DEGREES = 15.0
TURN_FRAMES = 2
FRONT_DEGREES = 10.0  # the head is back to the front


def random_challenge(rng: np.random.Generator | None = None) -> list[str]:
    return [str(a) for a in (rng or np.random.default_rng()).permutation(ACTIONS)]


def check_actions(actions: list[str] | str) -> list[str]:
    """The challenge's steps, checked; a string is read as a comma-separated list."""
    if isinstance(actions, str):
        actions = actions.split(",")
    if not all(isinstance(a, str) for a in actions):
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"a challenge is a list of {', '.join(ACTIONS)}"
        )
    if len(actions) > MAX_STEPS:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"a challenge has at most {MAX_STEPS} steps, got {len(actions)}"
        )
    steps = [a.strip().lower() for a in actions if a.strip()]
    wrong = [a for a in steps if a not in ACTIONS]
    if wrong or not steps:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"a challenge is a list of {', '.join(ACTIONS)}; got {', '.join(actions) or 'none'}",
        )
    return steps


def judge(
    signals: list[FaceSignal],
    actions: list[str],
    start: float,
    now: float,
    step_seconds: float = STEP_SECONDS,
) -> list[LivenessStep]:
    """Each step's outcome from the subject's signals seen up to time `now`."""
    times = np.array([s.time for s in signals])
    yaw = np.array([s.yaw for s in signals])
    openness = np.array([s.openness for s in signals])
    seen_blinks = blinks(times, openness)
    steps, asked = [], start
    for action in actions:
        if asked is None:
            steps.append(LivenessStep(action=action, status="waiting"))  # type: ignore[arg-type]
            continue
        deadline = asked + step_seconds
        done, failed = _done(action, asked, deadline, times, yaw, seen_blinks)
        step = LivenessStep(
            action=action,  # type: ignore[arg-type]
            status="pending",
            asked_at=round(asked, 3),
            deadline=round(deadline, 3),
        )
        if failed is not None and (done is None or failed < done):
            step.status, step.done_at = "failed", round(failed, 3)
            step.reason = f"turned the other way when asked to turn {action}"
        elif done is not None:
            step.status, step.done_at = "passed", round(done, 3)
        elif now >= deadline:
            step.status = "failed"
            step.reason = f"no {_words(action)} within {step_seconds:g} s"
        steps.append(step)
        asked = step.done_at if step.status == "passed" else None
    return steps


def _words(action: str) -> str:
    return "blink" if action == "blink" else f"turn to the {action}"


def _done(
    action: str,
    asked: float,
    deadline: float,
    times: np.ndarray,
    yaw: np.ndarray,
    seen_blinks: list,
) -> tuple[float | None, float | None]:
    """(when the action was seen done, when its opposite was seen) in [asked, deadline]."""
    if action == "blink":
        ends = [b.end for b in seen_blinks if b.start >= asked and b.end <= deadline]
        return (min(ends) if ends else None), None
    sign = 1.0 if action == "left" else -1.0
    window = (times >= asked) & (times <= deadline)
    # a turn counts from the head's return to the front (the previous turn may still hold)
    front = np.flatnonzero(window & (np.abs(yaw) < FRONT_DEGREES))
    window &= times >= (times[front[0]] if len(front) else np.inf)
    return (
        _held(times[window], sign * yaw[window] >= TURN_DEGREES),
        _held(times[window], -sign * yaw[window] >= TURN_DEGREES),
    )


def _held(times: np.ndarray, beyond: np.ndarray) -> float | None:
    """The time at which `beyond` has held for TURN_FRAMES frames in a row, or None."""
    run = 0
    for t, flag in zip(times, beyond, strict=True):
        run = run + 1 if flag else 0
        if run >= TURN_FRAMES:
            return float(t)
    return None
