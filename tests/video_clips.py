"""Video clips for the video tests, written with OpenCV from real photos."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

FRAME_SIZE = (480, 270)  # width, height
FACE_SIDE = 130  # an LFW photo (250 px, the face in its middle ~100 px) shrunk to this


def write_clip(
    path: Path, frames: Iterable[np.ndarray], fps: float = 10.0, fourcc: str = "mp4v"
) -> Path:
    """BGR frames → a video file (mp4v in .mp4, MJPG in .avi)."""
    writer = None
    for frame in frames:
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(
                str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height)
            )
        writer.write(frame)
    assert writer is not None
    writer.release()
    return path


def background(seed: int, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """A smooth random colour field (a different one reads as another shot)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (4, 6, 3), dtype=np.uint8)
    return cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)


def face_tile(photo: Path) -> np.ndarray:
    return cv2.resize(cv2.imread(str(photo)), (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)


def scene(base: np.ndarray, tiles: list[tuple[np.ndarray, int, int]]) -> np.ndarray:
    """`base` with each tile pasted with its top-left corner at (x, y)."""
    frame = base.copy()
    for tile, x, y in tiles:
        frame[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return frame
