"""Passive cues over one face's signals: blinks, non-rigid motion, frozen frames.

Non-rigid motion: the mesh points of two frames STEP_SECONDS apart are related by one
least-squares homography; a flat picture (a held-up photo, a screen) moves exactly so, up to
the mesh's own jitter, while a real head's turning (3D parallax: the nose moves against the
cheeks) and its expressions leave a residual. The residual is the RMS distance of the points
from their fitted place over the face's RMS radius (scale-free). Thresholds: facelens/eval/
liveness.py measured them (README, Liveness).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from facelens.liveness.signals import FaceSignal

STEP_SECONDS = 0.3  # frames compared for non-rigid motion are this far apart
# Blinks: openness below DIP × the face's open level (its running median), back above
# RECOVER × that level, the dip lasting at most BLINK_MAX_SECONDS (blinks take 0.1-0.4 s).
DIP, RECOVER, BLINK_MAX_SECONDS = 0.6, 0.8, 0.6
BASELINE_SECONDS = 1.5
FROZEN_LEVEL = 0.6  # mean absolute grey difference of two face patches that counts as "same"


@dataclass
class Blink:
    start: float
    end: float
    depth: float  # lowest openness over the open level


def open_level(times: np.ndarray, openness: np.ndarray) -> np.ndarray:
    """The eyes' open level at each frame: the median of the surrounding BASELINE_SECONDS."""
    level = np.empty_like(openness)
    for i, t in enumerate(times):
        near = np.abs(times - t) <= BASELINE_SECONDS / 2
        level[i] = np.median(openness[near])
    return level


def blinks(times: np.ndarray, openness: np.ndarray) -> list[Blink]:
    """Dips of the openness curve that close and reopen within blink timing."""
    if len(times) < 3:
        return []
    relative = openness / np.maximum(open_level(times, openness), 1e-6)
    found, start = [], None
    for i, value in enumerate(relative):
        if start is None and value < DIP:
            start = i
            while start > 0 and relative[start - 1] < RECOVER:
                start -= 1  # the closing began where the eye was last open
            if start == 0 and relative[0] < RECOVER:
                start = None  # closed from the first frame: no opening seen before it
        elif start is not None and value >= RECOVER:
            if times[i] - times[start] <= BLINK_MAX_SECONDS:
                found.append(Blink(times[start], times[i], float(relative[start:i].min())))
            start = None
    return found


def rigid_residuals(signals: list[FaceSignal]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, residuals, motions): for each frame, the homography residual and the mesh's
    motion against the frame STEP_SECONDS earlier (frames with no partner are left out)."""
    times = np.array([s.time for s in signals])
    out_t, out_r, out_m = [], [], []
    for signal in signals:
        j = int(np.searchsorted(times, signal.time - STEP_SECONDS, side="right")) - 1
        if j < 0 or signal.time - times[j] > 2 * STEP_SECONDS:
            continue
        residual, motion = planar_residual(signals[j].mesh, signal.mesh)
        if np.isfinite(residual):
            out_t.append(signal.time)
            out_r.append(residual)
            out_m.append(motion)
    return np.array(out_t), np.array(out_r), np.array(out_m)


def rms(points: np.ndarray) -> float:
    return float(np.sqrt((points**2).sum(-1).mean()))


def planar_residual(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """(RMS misfit of the best homography before → after, RMS motion of the points with
    the face's shift taken out), both over the RMS radius of `after`."""
    before, after = before.astype(np.float64), after.astype(np.float64)
    radius = max(rms(after - after.mean(0)), 1e-6)
    motion = rms((after - after.mean(0)) - (before - before.mean(0))) / radius
    homography, _ = cv2.findHomography(before, after, 0)
    if homography is None:
        return float("nan"), motion
    moved = cv2.perspectiveTransform(before.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return rms(moved - after) / radius, motion


def frozen_share(signals: list[FaceSignal]) -> float:
    """Share of frames whose face patch is (nearly) the same as the previous frame's."""
    if len(signals) < 2:
        return 0.0
    same = [float(np.abs(b.patch - a.patch).mean()) < FROZEN_LEVEL for a, b in pairwise(signals)]
    return float(np.mean(same))
