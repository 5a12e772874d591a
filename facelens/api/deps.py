"""What every route shares: settings, the FaceLens, worker threads, the API key, body docs."""

from __future__ import annotations

import hmac
import importlib.util
from collections.abc import Callable
from functools import cache, partial
from typing import Any, TypeVar

import anyio
import numpy as np
from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from facelens.api.errors import ApiError
from facelens.api.images import decode, read_images
from facelens.api.settings import Settings
from facelens.lens import FaceLens

T = TypeVar("T")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def lens_of(request: Request) -> FaceLens:
    return request.app.state.lens


async def run_cpu(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run CPU-bound work in a worker thread, at most `workers` at once, so the event loop
    keeps answering (health checks, uploads) while networks run."""
    state = request.app.state
    if getattr(state, "limiter", None) is None:
        state.limiter = anyio.CapacityLimiter(state.settings.workers)  # needs a running loop
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=state.limiter)


async def require_api_key(request: Request, key: str | None = Security(api_key_header)) -> None:
    expected = settings_of(request).api_key
    if expected and not (key and hmac.compare_digest(key.encode(), expected.encode())):
        raise ApiError(401, "unauthorized", "missing or wrong X-API-Key header")


async def request_images(request: Request, *names: str) -> tuple[list[np.ndarray], dict[str, str]]:
    """Decoded RGB arrays of the named images (in order), and the request's text fields."""
    settings = settings_of(request)
    raw, fields = await read_images(request, names, settings)
    arrays = [await run_cpu(request, decode, request, raw[n], settings) for n in names]
    return arrays, fields


@cache
def has_module(name: str, attribute: str) -> bool:
    """Whether an optional part of facelens (quality, attributes, ...) is installed, checked
    by the entry point the API calls (a package without it counts as missing)."""
    if importlib.util.find_spec(name) is None:
        return False
    try:
        return hasattr(importlib.import_module(name), attribute)
    except Exception:  # a broken optional part must not stop the server
        return False


FEATURES = {
    "quality": ("facelens.quality", "assess_quality"),
    "attributes": ("facelens.attributes", "predict_attributes"),
    "explain": ("facelens.explain", "gradcam"),
}


def has_feature(name: str) -> bool:
    return has_module(*FEATURES[name])


def image_body(*names: str, text: dict[str, str] | None = None) -> dict[str, Any]:
    """OpenAPI request body for routes that parse images themselves (multipart or JSON)."""
    text = text or {}
    files = {n: {"type": "string", "format": "binary"} for n in names}
    b64 = {n: {"type": "string", "format": "byte", "description": "base64 image"} for n in names}
    extra = {k: {"type": "string", "description": v} for k, v in text.items()}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": files | extra,
                        "required": list(names),
                    }
                },
                "application/json": {
                    "schema": {"type": "object", "properties": b64 | extra, "required": list(names)}
                },
            },
        }
    }
