"""The input budget: every limit on what one image may cost, checked before the work starts.

One object serves Python, the CLI and REST (`facelens serve` builds it from its settings), so a
request over budget fails the same way everywhere: `too_large` (413) for size, `bad_dimensions`
(422) for shapes no face can be found in. Derived work (tiles, detector views, faces per image)
is bounded here too, so no input of allowed size can multiply into unbounded memory or time.
"""

from __future__ import annotations

from dataclasses import dataclass

from facelens.errors import ErrorCode, FaceLensError

# Bytes one pixel takes once decoded, by Pillow mode (Pillow keeps 8-bit RGB as 4 bytes).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


@dataclass(frozen=True)
class InputBudget:
    max_bytes: int = 40 * 1024 * 1024  # encoded file or upload
    max_pixels: int = 50_000_000  # width × height
    max_side: int = 16_384
    min_side: int = 16  # a face needs more than this; smaller is no photo to judge
    max_aspect: float = 20.0  # long side / short side (panoramas are within 10)
    max_decoded_bytes: int = 256 * 1024 * 1024  # pixels × bytes per pixel of the decoded mode
    max_tiles: int = 4  # `detect(tiles=...)`
    max_views: int = 64  # whole image + tiles the detector runs on, per image
    max_faces: int = 256  # faces kept per image (best scores first)
    # the longest side a whole-image detector (YuNet) runs at, `tiles` included; bigger
    # photos are shrunk to it first. Measured on an 8000×6000 photo (loaded 2-core machine):
    # 2560 → 0.7 s, process peak 478 MB; 3840 → 1.7 s, 776 MB.
    max_detector_side: int = 2560
    # A video file (an upload, a clip on disk) is checked as a whole on its header, then
    # while it is read; every frame is also held to the per-image limits above. Cameras
    # and streams have no end: they are bounded by the caller's max_frames / duration.
    max_clip_frames: int = 18_000  # 10 minutes at 30 frames/s
    max_clip_seconds: float = 600.0

    def check_bytes(self, size: int) -> None:
        if size > self.max_bytes:
            raise FaceLensError(
                ErrorCode.TOO_LARGE,
                f"the image is {size:,} bytes, more than the limit of {self.max_bytes:,} bytes",
            )

    def check_size(
        self, width: int, height: int, mode: str = "RGB", subject: str = "the image is"
    ) -> None:
        """Refuse, from the header alone, an image that would cost too much to decode
        (`subject` names it in the message: a video says "each frame of the video is")."""
        shape = f"{width}x{height}"
        if width * height > self.max_pixels:
            raise FaceLensError(
                ErrorCode.TOO_LARGE,
                f"{subject} {shape} = {width * height:,} pixels, more than the limit of "
                f"{self.max_pixels:,} pixels",
            )
        if max(width, height) > self.max_side:
            raise FaceLensError(
                ErrorCode.TOO_LARGE,
                f"{subject} {shape} pixels; its long side is over the limit of "
                f"{self.max_side:,} pixels",
            )
        if min(width, height) < self.min_side:
            raise FaceLensError(
                ErrorCode.BAD_DIMENSIONS,
                f"{subject} {shape} pixels; each side must be at least {self.min_side} "
                "pixels to hold a face",
            )
        if max(width, height) > self.max_aspect * min(width, height):
            raise FaceLensError(
                ErrorCode.BAD_DIMENSIONS,
                f"{subject} {shape} pixels, an aspect ratio of "
                f"{max(width, height) / min(width, height):.1f}:1; the limit is "
                f"{self.max_aspect:g}:1",
            )
        decoded = width * height * _PIXEL_BYTES.get(mode, 4)
        if decoded > self.max_decoded_bytes:
            raise FaceLensError(
                ErrorCode.TOO_LARGE,
                f"the {shape} {mode} image takes {decoded:,} bytes decoded, more than the "
                f"limit of {self.max_decoded_bytes:,}",
            )

    def check_tiles(self, tiles: int | None) -> None:
        if tiles is not None and not 1 <= tiles <= self.max_tiles:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"tiles must be 1 to {self.max_tiles}, got {tiles}"
            )

    def check_views(self, views: int) -> None:
        if views > self.max_views:
            raise FaceLensError(
                ErrorCode.TOO_LARGE,
                f"detection would run on {views} views of the image, more than the limit "
                f"of {self.max_views}",
            )

    def check_clip(self, frames: int, seconds: float) -> None:
        """Refuse a video file longer than the per-clip limits (declared or counted)."""
        if frames > self.max_clip_frames:
            raise FaceLensError(
                ErrorCode.TOO_LARGE,
                f"the video has {frames:,} frames or more, more than the limit of "
                f"{self.max_clip_frames:,}; analyse a part with max_frames",
            )
        if seconds > self.max_clip_seconds:
            raise FaceLensError(
                ErrorCode.TOO_LARGE,
                f"the video lasts {seconds:,.1f} s or more, more than the limit of "
                f"{self.max_clip_seconds:g} s; analyse a part with duration",
            )


DEFAULT_BUDGET = InputBudget()
