"""Calibrated verification thresholds, named by operating point.

The numbers live in operating_points.json, written by `facelens eval lfw --write-calibration`
from the LFW View 2 pairs; each entry records what it was measured on.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from facelens.errors import ErrorCode, FaceLensError

CALIBRATION_FILE = Path(__file__).with_name("operating_points.json")
DEFAULT_OPERATING_POINT = "accuracy"


@cache
def load_calibration() -> dict:
    return json.loads(CALIBRATION_FILE.read_text())


def threshold_for(operating_point: str, flip: bool) -> float:
    """Cosine-similarity threshold above which two faces are the same person."""
    points = load_calibration()["flip" if flip else "plain"]
    if operating_point not in points:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"unknown operating point {operating_point!r}; choose one of {sorted(points)}",
        )
    return float(points[operating_point]["threshold"])


def operating_points() -> list[str]:
    return sorted(load_calibration()["plain"])
