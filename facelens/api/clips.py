"""Uploaded clips: read from the request, then held in a private temporary file while
OpenCV reads them (it reads files, not bytes)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import Request

from facelens.api.deps import settings_of
from facelens.api.images import read_images
from facelens.errors import ErrorCode, FaceLensError


async def read_clip(request: Request) -> bytes:
    """The `video` field's bytes (multipart, or base64 in JSON), held to the upload size."""
    raw, _ = await read_images(request, ("video",), settings_of(request))
    if not raw["video"]:
        raise FaceLensError(ErrorCode.EMPTY_INPUT, "the video is empty (0 bytes)")
    return raw["video"]


UPLOAD = "the uploaded clip"  # how answers name it: the server's temporary path is private


@contextmanager
def clip_on_disk(data: bytes) -> Iterator[Path]:
    """The clip as a temporary file; errors about it name it UPLOAD, never its path."""
    with tempfile.TemporaryDirectory(prefix="facelens-video-") as folder:
        path = Path(folder) / "clip"
        path.write_bytes(data)
        try:
            yield path
        except FaceLensError as error:
            raise FaceLensError(error.code, _renamed(error.message, path)) from None


def _renamed(message: str, path: Path) -> str:
    for said in (f"file {path}", f"video {path}", str(path)):
        message = message.replace(said, UPLOAD)
    return message
