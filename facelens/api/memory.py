"""Give memory back to the system after a request that handled a large image.

glibc keeps freed heap pages for reuse; after a 50-megapixel decode that is hundreds of MB
the process holds for no one. `malloc_trim` returns them (a few ms, in a worker thread,
after the response has gone out), so resident memory follows the load instead of its peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from facelens.api.logs import SCOPE_KEY

LARGE_PIXELS = 4_000_000
LARGE_BODY_BYTES = 4 * 1024 * 1024


def _malloc_trim() -> Callable[[], None] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    return (lambda: trim(0)) if trim else None


TRIM = _malloc_trim()


class ReturnMemoryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if TRIM is not None and scope["type"] == "http" and _was_large(scope):
                await anyio.to_thread.run_sync(TRIM)


def _was_large(scope: Scope) -> bool:
    images = scope.get(SCOPE_KEY, {}).get("images", [])
    if sum(image["width"] * image["height"] for image in images) > LARGE_PIXELS:
        return True
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return value.isdigit() and int(value) > LARGE_BODY_BYTES
    return False
