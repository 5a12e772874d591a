"""Heat maps for the page: a map in aligned-crop coordinates → an RGBA PNG over the photo.

Only the crop's footprint is rendered (not the whole photo), at most MAX_SIDE pixels, so a
response stays small; the page stretches it over `box`.
"""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from facelens.types import Box

MAX_SIDE = 384
SIMILAR = np.array([0, 200, 80], np.float32)  # positive values of signed maps (raise / similar)
DISSIMILAR = np.array([235, 40, 40], np.float32)  # negative values (lower / dissimilar)


class HeatMap(BaseModel):
    """An RGBA PNG (base64) to draw over the photo's `box` (image pixels)."""

    png: str = Field(description="base64 RGBA PNG; transparent where the map is ~0")
    box: Box
    signed: bool = Field(description="green > 0 > red (signed) or the JET scale (0..1)")


def colourise(values: np.ndarray, signed: bool) -> np.ndarray:
    """(H, W) map → (H, W, 4) uint8 RGBA; opacity follows the magnitude."""
    if signed:
        pos, neg = np.clip(values, 0, 1)[..., None], np.clip(-values, 0, 1)[..., None]
        rgb = (pos * SIMILAR + neg * DISSIMILAR) / np.maximum(pos + neg, 1e-6)
        alpha = np.clip(np.abs(values) * 1.5, 0, 1) * 0.8
    else:
        jet = cv2.applyColorMap(np.uint8(np.clip(values, 0, 1) * 255), cv2.COLORMAP_JET)
        rgb = cv2.cvtColor(jet, cv2.COLOR_BGR2RGB).astype(np.float32)
        alpha = np.clip(values, 0, 1) * 0.75
    return np.dstack([rgb, alpha * 255]).clip(0, 255).astype(np.uint8)


def overlay(
    values: np.ndarray, matrix: np.ndarray, crop_size: int, image_hw: tuple[int, int], signed: bool
) -> HeatMap:
    """values: map over the aligned crop (any grid size); matrix: 2×3, image → crop."""
    height, width = image_hw
    crop = cv2.resize(
        values.astype(np.float32), (crop_size, crop_size), interpolation=cv2.INTER_CUBIC
    )
    # The crop's corners in the image give the region to render.
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [crop_size, 0], [0, crop_size], [crop_size, crop_size]], float)
    mapped = corners @ inverse[:, :2].T + inverse[:, 2]
    x1, y1 = np.clip(np.floor(mapped.min(0)), 0, [width - 1, height - 1]).astype(int)
    x2, y2 = np.clip(np.ceil(mapped.max(0)), [x1 + 1, y1 + 1], [width, height]).astype(int)
    scale = min(1.0, MAX_SIDE / max(x2 - x1, y2 - y1))
    out_w, out_h = max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale))
    # Output pixel q maps to image point o + q / scale, hence to the crop by A(o + q/s) + t.
    a, t = matrix[:, :2], matrix[:, 2]
    local = np.hstack([a / scale, (a @ np.array([x1, y1]) + t)[:, None]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    region = cv2.warpAffine(crop, local, (out_w, out_h), flags=flags)
    inside = cv2.warpAffine(np.ones_like(crop), local, (out_w, out_h), flags=flags)
    rgba = colourise(region, signed)
    rgba[..., 3] = (rgba[..., 3] * inside).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return HeatMap(
        png=base64.b64encode(buffer.getvalue()).decode(),
        box=Box(x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2)),
        signed=signed,
    )
