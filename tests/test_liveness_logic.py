"""Liveness logic on exact synthetic cases: blinks, the challenge, the planar residual and
the verdict rules (no model runs here)."""

from __future__ import annotations

import numpy as np
import pytest

from facelens.errors import ErrorCode, FaceLensError
from facelens.liveness.challenge import check_actions, judge, random_challenge
from facelens.liveness.passive import blinks, frozen_share, planar_residual
from facelens.liveness.signals import PATCH, FaceSignal
from facelens.liveness.verdict import RESIDUAL_LIVE, RESIDUAL_SPOOF, decide
from facelens.quality.geometry import canonical

FPS = 15
OPEN = 0.4


def signals(openness: list[float], yaw: list[float], meshes=None, patches=None) -> list[FaceSignal]:
    mesh = np.zeros((468, 2), np.float32)
    return [
        FaceSignal(
            frame=i,
            time=i / FPS,
            track_id=1,
            eyes=np.array([o, o]),
            yaw=y,
            pitch=0.0,
            mesh=mesh if meshes is None else meshes[i],
            side=120.0,
            patch=np.full((PATCH, PATCH), float(i), np.float32) if patches is None else patches[i],
        )
        for i, (o, y) in enumerate(zip(openness, yaw, strict=True))
    ]


def curve(seconds: float, value: float) -> list[float]:
    return [value] * int(seconds * FPS)


def blink_curve() -> list[float]:
    return [0.3, 0.05, 0.05, 0.3]  # closing, closed 2 frames, opening: 4 frames = 0.27 s


def test_a_blink_is_a_short_dip_and_recovery():
    openness = curve(1, OPEN) + blink_curve() + curve(1, OPEN)
    times = np.arange(len(openness)) / FPS
    found = blinks(times, np.array(openness))
    assert len(found) == 1
    # from the last open frame (14) the curve falls at 15 and is open again at 19
    assert found[0].start == pytest.approx(15 / FPS) and found[0].end == pytest.approx(19 / FPS)
    assert found[0].depth == pytest.approx(0.05 / OPEN)


def test_long_closures_and_starting_closed_are_no_blinks():
    shut = curve(1, OPEN) + curve(1, 0.05) + curve(1, OPEN)  # eyes shut for 1 s
    starts_shut = [0.05, 0.05, *curve(2, OPEN)]
    for openness in (shut, starts_shut):
        assert blinks(np.arange(len(openness)) / FPS, np.array(openness)) == []


def test_challenge_answered_in_order():
    # frontal, blink at 1 s, turn to the subject's left (yaw > 0) at 2 s, right at 3.5 s
    openness = curve(1, OPEN) + blink_curve() + curve(4, OPEN)
    yaw = [0.0] * len(openness)
    for i in range(2 * FPS, int(2.5 * FPS)):
        yaw[i] = 30.0
    for i in range(int(3.5 * FPS), 4 * FPS):
        yaw[i] = -30.0
    steps = judge(signals(openness, yaw), ["blink", "left", "right"], 0.0, 6.0)
    assert [s.status for s in steps] == ["passed", "passed", "passed"]
    assert [s.done_at for s in steps] == [
        round(19 / FPS, 3),
        round((2 * FPS + 1) / FPS, 3),  # two frames beyond 20°
        round((int(3.5 * FPS) + 1) / FPS, 3),
    ]
    assert steps[1].asked_at == steps[0].done_at and steps[2].asked_at == steps[1].done_at
    verdict, reasons, _, _ = decide(signals(openness, yaw), steps)
    # the made-up mesh never moves: the blink carries the passive side
    assert verdict == "live" and reasons == [
        "1 blink(s); the face hardly moved",
        "challenge passed",
    ]


def test_challenge_without_answer_fails_at_the_deadline():
    openness, yaw = curve(6, OPEN), [0.0] * 90
    pending = judge(signals(openness, yaw), ["left", "blink"], 0.0, 4.9)
    assert [s.status for s in pending] == ["pending", "waiting"]
    steps = judge(signals(openness, yaw), ["left", "blink"], 0.0, 6.0)
    assert [s.status for s in steps] == ["failed", "waiting"]
    assert steps[0].reason == "no turn to the left within 5 s"


def test_turning_the_wrong_way_fails_at_once():
    yaw = [0.0] * 15 + [-25.0] * 15 + [25.0] * 15
    steps = judge(signals(curve(3, OPEN), yaw), ["left"], 0.0, 3.0)
    assert steps[0].status == "failed" and steps[0].done_at == round(16 / FPS, 3)
    assert "other way" in steps[0].reason


def test_a_turn_counts_only_once_the_head_was_frontal():
    yaw = [-25.0] * 30 + [25.0] * 15  # asked "left" while still turned right from before
    steps = judge(signals(curve(3, OPEN), yaw), ["left"], 0.0, 3.0)
    assert steps[0].status == "pending"  # never frontal: neither passed nor failed


def test_challenge_names_are_checked():
    assert sorted(random_challenge(np.random.default_rng(1))) == ["blink", "left", "right"]
    assert check_actions([" Blink", "LEFT"]) == ["blink", "left"]
    with pytest.raises(FaceLensError) as error:
        check_actions(["blink", "jump"])
    assert error.value.code == ErrorCode.BAD_ARGUMENT
    assert len(check_actions(["blink", "left", "right"] * 2)) == 6
    with pytest.raises(FaceLensError) as error:  # a long list only bloats every answer
        check_actions("blink," * 1500)
    assert error.value.code == ErrorCode.BAD_ARGUMENT and "at most 6" in error.value.message


def project(points: np.ndarray, yaw_degrees: float) -> np.ndarray:
    angle = np.radians(yaw_degrees)
    rotation = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    turned = points @ rotation.T
    depth = 8.0 + turned[:, 2]  # a camera 8 face radii away
    return (100 * turned[:, :2] / depth[:, None] + 300).astype(np.float32)


def test_planar_residual_separates_a_plane_from_a_turning_head():
    face = canonical()
    front = project(face, 0)
    homography = np.array([[1.1, 0.08, 12.0], [-0.05, 0.95, -7.0], [2e-4, -1e-4, 1.0]])
    moved = np.c_[front, np.ones(len(front))] @ homography.T
    plane, motion = planar_residual(front, (moved[:, :2] / moved[:, 2:]).astype(np.float32))
    assert plane < 1e-4 and motion > 0.05
    turned, _ = planar_residual(front, project(face, 15))
    assert turned > RESIDUAL_LIVE > RESIDUAL_SPOOF


def test_verdict_rules():
    face = canonical()
    n = 2 * FPS
    held = [project(face, 0) * (1 + 0.01 * i) for i in range(n)]  # a picture moved to and fro
    verdict, reasons, cues, _ = decide(signals(curve(2, OPEN), [0.0] * n, held))
    assert verdict == "spoof" and "flat picture" in reasons[0] and cues.residual < 1e-4
    turning = [project(face, 20 * np.sin(i / 4)) for i in range(n)]
    verdict, reasons, _, _ = decide(signals(curve(2, OPEN), [0.0] * n, turning))
    assert verdict == "live" and "non-rigid" in reasons[0]
    still = [np.zeros((PATCH, PATCH), np.float32)] * n
    verdict, reasons, cues, _ = decide(signals(curve(2, OPEN), [0.0] * n, turning, still))
    assert verdict == "spoof" and cues.frozen_share == 1.0 and "frozen" in reasons[0]
    assert frozen_share(signals(curve(2, OPEN), [0.0] * n)) == 0.0
    verdict, reasons, _, _ = decide(signals(curve(0.5, OPEN), [0.0] * 7))
    assert verdict == "undecided" and reasons[0].startswith("only")
    assert decide([])[0] == "undecided"
