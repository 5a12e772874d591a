"""Images out of a request: multipart files or base64 JSON, decoded within the input budget."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import numpy as np
from starlette.datastructures import UploadFile
from starlette.requests import Request

from facelens.api.errors import ApiError
from facelens.api.logs import note_image
from facelens.api.settings import Settings
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import decode_bytes

# Separators (commas, brackets) a JSON body may hold: two images and a few text fields.
MAX_JSON_ITEMS = 256


async def read_images(
    request: Request, names: tuple[str, ...], settings: Settings
) -> tuple[dict[str, bytes], dict[str, str]]:
    """The raw bytes of each named image, plus any plain text fields sent along."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        images, fields = await _from_form(request, names, settings)
    elif kind == "application/json":
        images, fields = await _from_json(request, names, settings)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send multipart/form-data (file fields) or application/json (base64 strings)",
        )
    missing = [n for n in names if n not in images]
    if missing:
        wanted = ", ".join(repr(n) for n in names)
        raise ApiError(
            400,
            "missing_image",
            f"missing image field(s) {', '.join(missing)}: expected {wanted} as file "
            "fields (multipart) or base64 strings (JSON)",
        )
    return images, fields


async def _from_form(
    request: Request, names: tuple[str, ...], settings: Settings
) -> tuple[dict[str, bytes], dict[str, str]]:
    images: dict[str, bytes] = {}
    fields: dict[str, str] = {}
    async with request.form(max_files=len(names) + 2, max_fields=16) as form:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key in names:
                    if value.size is not None and value.size > settings.max_upload_bytes:
                        raise _too_large(settings)
                    images[key] = await value.read()
            else:
                fields[key] = value
    return images, fields


async def _from_json(
    request: Request, names: tuple[str, ...], settings: Settings
) -> tuple[dict[str, bytes], dict[str, str]]:
    raw = await request.body()
    # The body is a flat object of a few strings. Counting separators (a C-speed scan) stops
    # a body of millions of tiny items before it is parsed into millions of Python objects.
    items = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
    if items > MAX_JSON_ITEMS:
        message = f"the JSON body has {items:,} items; at most {MAX_JSON_ITEMS} are allowed"
        raise ApiError(400, "bad_request", message)
    try:
        body: Any = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "bad_request", "the JSON body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the JSON body must be an object")
    images: dict[str, bytes] = {}
    for name in names:
        if name in body:
            images[name] = _b64(name, body[name], settings)
    fields = {k: str(v) for k, v in body.items() if k not in names and isinstance(v, str | int)}
    return images, fields


def _b64(name: str, value: Any, settings: Settings) -> bytes:
    if not isinstance(value, str):
        raise ApiError(400, "bad_base64", f"{name!r} must be a base64 string")
    if value.startswith("data:"):  # a data URL, as a browser's FileReader gives
        value = value.partition(",")[2]
    value = "".join(value.split())  # line-wrapped base64 (`base64` wraps at 76) is fine
    if len(value) * 3 // 4 > settings.max_upload_bytes + 3:
        raise _too_large(settings)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_base64", f"{name!r} is not valid base64") from None


def _too_large(settings: Settings) -> FaceLensError:
    return FaceLensError(
        ErrorCode.TOO_LARGE, f"an image is larger than {settings.max_upload_bytes} bytes"
    )


def decode(request: Request, data: bytes, settings: Settings) -> np.ndarray:
    """Decode within the server's budget (run it in a worker thread: decoding is CPU work)."""
    rgb = decode_bytes(data, settings.budget)
    note_image(request, len(data), rgb.shape[1], rgb.shape[0])
    return rgb
