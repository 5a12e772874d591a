"""The verdict from the subject's signals: passive cues first, then the challenge.

Measured thresholds (`python -m facelens.eval.liveness`; README, Liveness): the median
homography residual of 100 held-up and on-screen photo attacks is 0.008-0.038 of the face
radius (99 under 0.03), of the live speaker's judged sightings 0.057-0.159. Planarity can
only be judged when the face moved: a still face (live or a photo on a stand) leaves the
motion cue undecided, and the challenge must decide.
"""

from __future__ import annotations

import numpy as np

from facelens.liveness.passive import blinks, frozen_share, rigid_residuals
from facelens.liveness.signals import FaceSignal
from facelens.types import LivenessCues, LivenessEvidence, LivenessStep

MIN_SECONDS = 1.0  # a shorter sighting of the subject is too little to judge
MIN_FRAMES = 8
MIN_SIDE = 48.0  # px: smaller faces give the mesh too little to measure
FROZEN_SPOOF = 0.5  # share of repeated frames (a live clip repeats ~10% by frame-rate changes)
RESIDUAL_SPOOF = 0.03  # median residual below this, with motion: a flat picture
RESIDUAL_LIVE = 0.04  # above this: the face moves as no plane does
MOTION_MIN = 0.02  # median mesh motion below this: too still to judge planarity


def cues(signals: list[FaceSignal]) -> tuple[LivenessCues, LivenessEvidence]:
    times = np.array([s.time for s in signals])
    openness = np.array([s.openness for s in signals])
    seen = blinks(times, openness)
    r_times, residuals, motions = rigid_residuals(signals)
    start = float(times[0]) if len(times) else 0.0
    figures = LivenessCues(
        seconds=round(float(times[-1] - times[0]), 3) if len(times) else 0.0,
        frames=len(signals),
        face_side=round(float(np.median([s.side for s in signals])), 1) if signals else 0.0,
        blinks=len(seen),
        motion=round(float(np.median(motions)), 4) if len(motions) else None,
        residual=round(float(np.median(residuals)), 4) if len(residuals) else None,
        frozen_share=round(frozen_share(signals), 3),
    )
    evidence = LivenessEvidence(
        times=_rounded(times - start, 3),
        eye_openness=_rounded(openness, 3),
        yaw=_rounded([s.yaw for s in signals], 1),
        pitch=_rounded([s.pitch for s in signals], 1),
        residual_times=_rounded(r_times - start, 3),
        residuals=_rounded(residuals, 4),
        blinks=[(round(b.start - start, 3), round(b.end - start, 3)) for b in seen],
    )
    return figures, evidence


def decide(
    signals: list[FaceSignal], steps: list[LivenessStep] | None = None
) -> tuple[str, list[str], LivenessCues | None, LivenessEvidence]:
    """(verdict, reasons, cues, evidence) for the subject's signals and the challenge's steps."""
    if not signals:
        return "undecided", ["no face was seen"], None, LivenessEvidence()
    figures, evidence = cues(signals)
    verdict, reasons, judged = _passive(figures)
    if not steps or verdict == "spoof" or not judged:
        return verdict, reasons, figures, evidence
    failed = [s for s in steps if s.status == "failed"]
    if failed:
        return "spoof", [f"challenge failed: {s.reason}" for s in failed], figures, evidence
    if any(s.status != "passed" for s in steps):
        return "undecided", [*reasons, "challenge not finished"], figures, evidence
    return "live", [*reasons, "challenge passed"], figures, evidence


def _passive(c: LivenessCues) -> tuple[str, list[str], bool]:
    """(verdict, reasons, whether the sighting was long and large enough to judge at all)."""
    if c.seconds < MIN_SECONDS or c.frames < MIN_FRAMES:
        return "undecided", [f"only {c.seconds:.1f} s of the face were seen"], False
    if c.face_side < MIN_SIDE:
        return "undecided", [f"the face is too small to judge ({c.face_side:.0f} px)"], False
    if c.frozen_share >= FROZEN_SPOOF:
        return "spoof", [f"frozen video: {100 * c.frozen_share:.0f}% of frames repeat"], True
    blinked = f"{c.blinks} blink(s)" if c.blinks else "no blink"
    if c.motion is None or c.residual is None or c.motion < MOTION_MIN:
        if c.blinks:
            return "live", [f"{blinked}; the face hardly moved"], True
        return "undecided", ["the face hardly moved and did not blink"], True
    if c.residual < RESIDUAL_SPOOF:
        return "spoof", [f"the face moves like a flat picture (residual {c.residual:.3f})"], True
    if c.residual < RESIDUAL_LIVE and not c.blinks:
        return (
            "undecided",
            [f"little non-rigid motion (residual {c.residual:.3f}), {blinked}"],
            True,
        )
    return "live", [f"non-rigid face motion (residual {c.residual:.3f}), {blinked}"], True


def _rounded(values, digits: int) -> list[float]:
    return [round(float(v), digits) for v in values]
