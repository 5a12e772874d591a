"""An annotated copy of the analysed frames: each face's box and track id (OpenCV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facelens.errors import ErrorCode, FaceLensError
from facelens.types import VideoFrame

# Distinct colours by track id (BGR), so a track keeps its colour through the video.
PALETTE = [(0, 200, 255), (80, 220, 80), (255, 140, 0), (220, 60, 220), (60, 60, 255)]


def draw(rgb: np.ndarray, frame: VideoFrame) -> np.ndarray:
    """BGR copy of the frame with the faces' boxes and track ids."""
    image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for face in frame.faces:
        colour = PALETTE[face.track_id % len(PALETTE)]
        box = face.box
        top_left, bottom_right = (int(box.x1), int(box.y1)), (int(box.x2), int(box.y2))
        cv2.rectangle(image, top_left, bottom_right, colour, 2)
        label_at = (int(box.x1), max(int(box.y1) - 6, 12))
        cv2.putText(image, f"#{face.track_id}", label_at, cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 2)
    return image


class AnnotatedWriter:
    """Writes drawn frames to an .mp4 (MPEG-4 Part 2, OpenCV's own encoder) at `fps`."""

    def __init__(self, path: Path, fps: float, width: int, height: int) -> None:
        self.path = path
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        self.writer = cv2.VideoWriter(str(path), fourcc, max(fps, 1.0), (width, height))
        if not self.writer.isOpened():
            raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"cannot write a video to {path}")
        self.size = (width, height)

    def write(self, rgb: np.ndarray, frame: VideoFrame) -> None:
        image = draw(rgb, frame)
        if image.shape[1::-1] != self.size:  # a stream that changed resolution
            image = cv2.resize(image, self.size)
        self.writer.write(image)

    def close(self) -> None:
        self.writer.release()
