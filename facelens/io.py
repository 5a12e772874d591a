"""Image decoding: bytes, paths or arrays in, an RGB uint8 array out, with input limits.

Pillow decodes (it sniffs the content, not the file name); EXIF orientation is applied;
grayscale, palette, RGBA, 16-bit and CMYK images all become 8-bit RGB.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facelens.errors import ErrorCode, FaceLensError

MAX_BYTES = 40 * 1024 * 1024
MAX_PIXELS = 50_000_000

ImageInput = str | Path | bytes | bytearray | np.ndarray


def load_image(
    source: ImageInput, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Decode any supported input to an H×W×3 RGB uint8 array.

    Arrays are taken as RGB (H×W, H×W×3 or H×W×4); use `from_bgr` for OpenCV arrays.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, max_pixels)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FaceLensError(ErrorCode.NOT_AN_IMAGE, f"no such file: {path}")
        if path.stat().st_size > max_bytes:
            raise FaceLensError(
                ErrorCode.TOO_LARGE, f"{path.name} is larger than {max_bytes} bytes"
            )
        data = path.read_bytes()
    else:
        data = bytes(source)
    return decode_bytes(data, max_bytes, max_pixels)


def decode_bytes(
    data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    if not data:
        raise FaceLensError(ErrorCode.EMPTY_INPUT, "the image is empty (0 bytes)")
    if len(data) > max_bytes:
        raise FaceLensError(ErrorCode.TOO_LARGE, f"the upload is larger than {max_bytes} bytes")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise FaceLensError(
            ErrorCode.NOT_AN_IMAGE, "the data is not an image in a supported format"
        ) from None
    except Image.DecompressionBombError as bomb:  # Pillow's own, stricter, header check
        raise FaceLensError(ErrorCode.TOO_LARGE, str(bomb)) from None
    # The header gives the size before any pixel is decoded: refuse decompression bombs here.
    width, height = image.size
    if width * height > max_pixels:
        raise FaceLensError(
            ErrorCode.TOO_LARGE,
            f"the image has {width}x{height} pixels, more than the limit of {max_pixels}",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise FaceLensError(
            ErrorCode.TRUNCATED_IMAGE, f"the image could not be decoded completely: {exc}"
        ) from None
    image = ImageOps.exif_transpose(image)
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit int) grayscale: scale to 8 bits by the actual range of the type.
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max(initial=0) > 255 or image.mode.startswith("I;16") else 255.0
        gray = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        gray = np.clip(values * (255.0 if values.max(initial=0) <= 1.0 else 1.0), 0, 255)
        return np.ascontiguousarray(np.stack([gray.astype(np.uint8)] * 3, axis=-1))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white, as a viewer shows them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _from_array(array: np.ndarray, max_pixels: int) -> np.ndarray:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise FaceLensError(
            ErrorCode.BAD_ARRAY, f"expected an H×W, H×W×3 or H×W×4 array, got shape {array.shape}"
        )
    if array.size == 0:
        raise FaceLensError(ErrorCode.EMPTY_INPUT, "the image array is empty")
    if array.shape[0] * array.shape[1] > max_pixels:
        raise FaceLensError(ErrorCode.TOO_LARGE, f"the array has more than {max_pixels} pixels")
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise FaceLensError(ErrorCode.BAD_ARRAY, f"unsupported array dtype {array.dtype}")
        scale = 255.0 if float(np.nanmax(array)) <= 1.0 else 1.0
        array = np.clip(np.nan_to_num(array) * scale + 0.5, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = (array[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(array)


def from_bgr(array: np.ndarray) -> np.ndarray:
    """Convert an OpenCV BGR array to the RGB order facelens uses."""
    return np.ascontiguousarray(array[:, :, ::-1])
