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


# How answers name the clip: the reader is given this name (FaceLens.video/liveness `name=`),
# so no message and no summary holds the server's temporary path.
UPLOAD = "the uploaded clip"


@contextmanager
def clip_on_disk(data: bytes) -> Iterator[Path]:
    """The clip as a temporary file, removed afterwards; read it with `name=UPLOAD`."""
    with tempfile.TemporaryDirectory(prefix="facelens-video-") as folder:
        path = Path(folder) / "clip"
        path.write_bytes(data)
        yield path
