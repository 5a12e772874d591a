"""Frames from a video file, a camera index or a stream URL (OpenCV's VideoCapture, FFmpeg).

Frames are read one at a time and never kept. Limits: every frame is held to the per-image
budget (checked on the header's size first); a file to the per-clip budget (declared length
first, then the frames actually read); a live source only to the caller's max_frames and
duration. Opening and reading a stream time out (open_timeout), so a dead URL cannot hang.
A still image given as a file (JPEG, PNG, ...; OpenCV would read it as a one-frame clip) is
refused by its leading bytes before it is opened; an animated GIF or PNG plays as a clip.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from facelens.budget import DEFAULT_BUDGET, InputBudget
from facelens.errors import ErrorCode, FaceLensError, check_count, check_positive
from facelens.io import path_kind, shortened
from facelens.types import VideoInfo

# FFmpeg's own warnings (a broken NAL unit, a missing moov atom) are answered with error
# codes here; OpenCV reads this when its FFmpeg backend first opens a capture.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

VideoSource = str | int | Path
Stopped = Literal["end", "max_frames", "duration", "closed"]
# A file may decode a frame or two fewer than its header declares (rounded durations);
# more missing than this means the data stops early.
TRUNCATION_TOLERANCE = 0.02


# how budget messages name a video's frames
FRAME = "each frame of the video is"


@dataclass
class Frame:
    index: int
    time: float  # seconds from the start: the file's timestamp, or wall clock when live
    rgb: np.ndarray


def source_kind(source: VideoSource) -> Literal["file", "camera", "stream"]:
    if isinstance(source, bool) or not isinstance(source, int | str | os.PathLike):
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            "a video source is a file path, a camera index or a stream URL, "
            f"got {type(source).__name__}",
        )
    if isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit()):
        return "camera"
    return "stream" if isinstance(source, str) and "://" in source else "file"


# Still-image formats a video reader would take for a one-frame clip (Pillow's names), and
# the names messages use
STILL_FORMATS = {
    "JPEG": "JPEG", "PNG": "PNG", "BMP": "BMP", "TIFF": "TIFF", "WEBP": "WebP", "GIF": "GIF",
    "AVIF": "AVIF",
}  # fmt: skip


def still_image(path: Path) -> str | None:
    """The format of a still image file ("JPEG", "PNG", ...), told by Pillow from its header
    (nothing is decoded), or None: not an image Pillow can parse (left to the video reader),
    or an animated GIF, PNG, WebP or AVIF. A multi-page TIFF counts as still: OpenCV reads its
    first page alone."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's decompression-bomb warning
            with Image.open(path, formats=list(STILL_FORMATS)) as image:
                kind = str(image.format)
                animated = kind != "TIFF" and bool(getattr(image, "is_animated", False))
    except Exception:  # not an image of these formats (a video), or unreadable: not judged here
        return None
    return None if animated else STILL_FORMATS.get(kind)


class FrameSource:
    """Opens the source at once (errors are raised here); iterate for frames; close when done.

    max_frames: stop after this many frames; duration: after this many seconds (of video for
    a file, of wall clock for a camera or stream). name: how messages and `info.source` name
    the source instead of its path or URL (an uploaded clip's temporary file stays private)."""

    def __init__(
        self,
        source: VideoSource,
        budget: InputBudget = DEFAULT_BUDGET,
        max_frames: int | None = None,
        duration: float | None = None,
        open_timeout: float = 10.0,
        name: str | None = None,
    ) -> None:
        if max_frames is not None:
            max_frames = check_count("max_frames", max_frames)
        if duration is not None:
            duration = check_positive("duration", duration)
        self.kind = source_kind(source)
        self.called = name  # the caller's name for the source, used in every message
        self.name = name or str(source)
        self.budget, self.max_frames, self.duration = budget, max_frames, duration
        self.stopped: Stopped = "end"
        self.frames_read, self.declared, self.closed = 0, 0, False
        self.capture = self._open(source, open_timeout)
        self.info = self._check_header()

    def _open(self, source: VideoSource, timeout: float) -> cv2.VideoCapture:
        if self.kind == "file":
            self._check_file(Path(source))
        # OpenCV's warnings for a failed open say what the error below says, less clearly
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            if self.kind == "camera":
                capture = cv2.VideoCapture(int(source))
            else:
                ms = int(timeout * 1000)
                params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
                capture = cv2.VideoCapture(str(source), cv2.CAP_FFMPEG, params)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not capture.isOpened():
            capture.release()
            what = {
                "file": "could not be read as a video (not a video, or truncated or corrupt)",
                "camera": "could not be opened (no such camera, or it is busy)",
                "stream": f"could not be opened (unreachable, no video, or {timeout:g} s silent)",
            }[self.kind]
            said = self.called or f"{self.kind} {source}"
            raise FaceLensError(ErrorCode.UNREADABLE_VIDEO, f"{said} {what}")
        return capture

    def _check_file(self, path: Path) -> None:
        """A regular, non-empty file that is not a still image; messages name it as called."""
        said = self.called or shortened(path)
        try:
            kind = path_kind(path, ErrorCode.UNREADABLE_VIDEO)
        except FaceLensError:
            if self.called is None:
                raise
            message = f"{self.called} could not be read"
            raise FaceLensError(ErrorCode.UNREADABLE_VIDEO, message) from None
        if kind == "folder":
            raise FaceLensError(ErrorCode.UNREADABLE_VIDEO, f"{said} is a folder, not a video")
        if kind == "other":  # a device, a pipe, a socket: no end to check, maybe no data
            message = f"{said} is not a regular file (a device or a pipe)"
            raise FaceLensError(ErrorCode.UNREADABLE_VIDEO, message)
        if kind != "file":
            message = f"no such video file: {said}"
            raise FaceLensError(ErrorCode.UNREADABLE_VIDEO, message)
        if path.stat().st_size == 0:
            empty = self.called or f"the video {path}"
            raise FaceLensError(ErrorCode.EMPTY_INPUT, f"{empty} is empty (0 bytes)")
        image = still_image(path)
        if image is not None:
            message = f"{said} is a still image ({image}), not a video: use analyze for photos"
            raise FaceLensError(ErrorCode.UNREADABLE_VIDEO, message)

    def _check_header(self) -> VideoInfo:
        width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = self.declared = max(int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        try:
            if width and height:  # before any frame is decoded
                self.budget.check_size(width, height, subject=FRAME)
            if self.kind == "file":
                frames = min(count, self.max_frames or count)
                seconds = frames / fps if fps > 0 else 0.0
                self.budget.check_clip(frames, min(seconds, self.duration or seconds))
        except FaceLensError:
            self.close()
            raise
        return VideoInfo(
            source=self.name,
            kind=self.kind,
            width=width,
            height=height,
            fps=round(fps, 3),
            frame_count=count if self.kind == "file" and count > 0 else None,
        )

    def __iter__(self) -> Iterator[Frame]:
        started = time.monotonic()
        fps = self.info.fps or 30.0
        try:
            while True:
                if self.max_frames is not None and self.frames_read >= self.max_frames:
                    self.stopped = "max_frames"
                    return
                ok, bgr = self.capture.read()
                if not ok:
                    if self.closed:
                        self.stopped = "closed"
                        return
                    self._check_end()
                    return
                index = self.frames_read
                self.frames_read += 1
                if self.kind == "file":
                    seconds = index / fps
                    self.budget.check_clip(self.frames_read, seconds)
                else:
                    seconds = time.monotonic() - started
                if self.duration is not None and seconds >= self.duration:
                    self.stopped = "duration"
                    return
                self.budget.check_size(bgr.shape[1], bgr.shape[0], subject=FRAME)
                yield Frame(index, round(seconds, 3), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            self.close()

    def _check_end(self) -> None:
        """The source gave no frame: a normal end, or data or a device that failed."""
        read, declared = self.frames_read, self.declared
        complete = declared > 0 and read >= declared * (1 - TRUNCATION_TOLERANCE) - 1
        if self.kind == "file":
            if read == 0:
                raise FaceLensError(
                    ErrorCode.UNREADABLE_VIDEO, f"no frame of {self.name} could be decoded"
                )
            if declared and not complete:
                raise FaceLensError(
                    ErrorCode.TRUNCATED_VIDEO,
                    f"{self.name} stopped decoding after {read} of its {declared} frames "
                    "(truncated or corrupt)",
                )
            return
        if complete:  # a stream of a finite video (a URL of a file) that reached its end
            return
        said = self.called or f"{self.kind} {self.name}"
        raise FaceLensError(
            ErrorCode.SOURCE_LOST, f"{said} stopped delivering frames after {read} frame(s)"
        )

    def close(self) -> None:
        self.closed = True
        self.capture.release()
