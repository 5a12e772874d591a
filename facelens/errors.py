"""Errors are values with a code and a message, the same in Python, the CLI and REST."""

from __future__ import annotations

import math
import numbers
from enum import StrEnum


class ErrorCode(StrEnum):
    EMPTY_INPUT = "empty_input"
    NOT_AN_IMAGE = "not_an_image"
    TRUNCATED_IMAGE = "truncated_image"
    TOO_LARGE = "too_large"
    BAD_DIMENSIONS = "bad_dimensions"
    BAD_ARRAY = "bad_array"
    NO_FACE = "no_face"
    FACE_INDEX = "face_index"
    RETAKE = "retake"
    BAD_ARGUMENT = "bad_argument"
    BAD_NAME = "bad_name"  # a gallery name outside the policy (facelens.gallery.names)
    NOT_FOUND = "not_found"  # no such person in the gallery
    NAME_TAKEN = "name_taken"  # the name (case-insensitively) belongs to another person
    EMBEDDER_MISMATCH = "embedder_mismatch"  # a gallery or export of another embedder
    UNREADABLE_VIDEO = "unreadable_video"  # no such file, camera or stream; not a video
    TRUNCATED_VIDEO = "truncated_video"  # a file that ends before its declared frames
    SOURCE_LOST = "source_lost"  # a camera or live stream that stopped delivering frames
    BAD_GALLERY = "bad_gallery"  # a gallery's files are not a readable facelens gallery
    PHOTO_TAKEN = "photo_taken"  # the same photo is already enrolled for another person
    BUSY = "busy"  # the server is at one of its own limits (e.g. live sessions): retry later


class FaceLensError(Exception):
    """Raised for bad input; `code` is stable, `message` is for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """A whole-number argument of at least `minimum`, or `bad_argument` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"{name} must be a whole number >= {minimum}, got {value!r}"
        )
    return int(value)


def check_positive(name: str, value: object) -> float:
    """A finite number > 0, or `bad_argument` naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"{name} must be a number > 0, got {value!r}")
    return float(value)
