"""Calibrated verification thresholds, named by operating point, one set per embedder.

The numbers live in operating_points.json under the embedder's name, written by
`facelens eval lfw --embedder NAME --write-calibration` from the LFW View 2 pairs; each entry
records what it was measured on.
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


def measured_for(table: dict, embedder: str, what: str, command: str) -> dict:
    """One embedder's entry of a calibration table, or an error naming the command that
    measures it."""
    if embedder not in table:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"no {what} measured for embedder {embedder!r} (measured: {sorted(table)}); run "
            f"facelens eval {command} --embedder {embedder} --write-calibration",
        )
    return table[embedder]


def calibration_of(embedder: str) -> dict:
    return measured_for(load_calibration(), embedder, "operating points", "lfw")


def threshold_for(operating_point: str, flip: bool, embedder: str) -> float:
    """Cosine-similarity threshold above which two faces are the same person."""
    points = calibration_of(embedder)["flip" if flip else "plain"]
    if operating_point not in points:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"unknown operating point {operating_point!r}; choose one of {sorted(points)}",
        )
    return float(points[operating_point]["threshold"])


def operating_points(embedder: str) -> list[str]:
    return sorted(calibration_of(embedder)["plain"])


def store_calibration(embedder: str, entry: dict) -> None:
    """Replace one embedder's operating points in operating_points.json, keeping the others."""
    calibration = json.loads(CALIBRATION_FILE.read_text())
    calibration[embedder] = entry
    CALIBRATION_FILE.write_text(json.dumps(calibration, indent=2) + "\n")
    load_calibration.cache_clear()
