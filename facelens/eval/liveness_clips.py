"""Clips and photos for the liveness evaluation: reading, writing, shots, face crops."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from facelens.video.cuts import CutDetector

if TYPE_CHECKING:
    from facelens.lens import FaceLens

FACE_MARGIN = 1.1  # box sides kept around the face: a printed face photo, head and shoulders


def read_clip(path: Path) -> tuple[list[np.ndarray], float]:
    from facelens.budget import DEFAULT_BUDGET
    from facelens.video.source import FrameSource

    source = FrameSource(path, DEFAULT_BUDGET)
    return [frame.rgb for frame in source], source.info.fps or 30.0


def write_clip(path: Path, frames: list[np.ndarray], fps: float) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def shots(clip: list[np.ndarray]) -> list[tuple[int, int]]:
    """(first, end) frame ranges between the shot cuts (video/cuts.py)."""
    detector = CutDetector()
    cuts = [i for i, frame in enumerate(clip) if detector.is_cut(frame)]
    bounds = [0, *cuts, len(clip)]
    return [(a, b) for a, b in pairwise(bounds) if b > a]


def photo_paths(data: Path, count: int) -> list[Path]:
    """`count` photos of different people: LFW (one per person, a fixed spread), then the
    face_recognition test photos and InspireFace's single-face photos."""
    extra = [
        data / "face_recognition/tests/test_images" / n
        for n in ("obama.jpg", "biden.jpg", "obama2.jpg")
    ] + [
        data / "inspireface/test_res/bulk" / n
        for n in ("yifei.jpg", "image_T1.jpeg", "woman.png", "Nathalie_Baye_0002.jpg")
    ]
    people = sorted((data / "lfw/images").iterdir())
    lfw_count = max(count - len(extra), 0)
    step = max(len(people) // max(lfw_count, 1), 1)
    lfw = [sorted(p.glob("*.jpg"))[0] for p in people[::step][:lfw_count]]
    return (lfw + extra)[:count]


def face_crop(lens: FaceLens, rgb: np.ndarray) -> np.ndarray | None:
    """The largest face with FACE_MARGIN box sides around it (None without a face)."""
    found = lens.detector.detect(rgb)
    if not len(found):
        return None
    box = found.boxes[0]
    side = max(box[2] - box[0], box[3] - box[1])
    centre = (box[:2] + box[2:]) / 2
    x0, y0 = np.maximum(centre - FACE_MARGIN * side, 0).astype(int)
    x1, y1 = (centre + FACE_MARGIN * side).astype(int)
    return rgb[y0:y1, x0:x1]
