"""Image decoding: bytes, paths or arrays in, an RGB uint8 array out, within the input budget.

Pillow decodes (it sniffs the content, not the file name); EXIF orientation is applied;
grayscale, palette, RGBA, 16-bit and CMYK images all become 8-bit RGB.
"""

from __future__ import annotations

import io
import os
import re
import threading
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facelens.budget import DEFAULT_BUDGET, InputBudget
from facelens.errors import ErrorCode, FaceLensError

# Pillow is asked to open these formats only (it sniffs the content, never the file name):
# EPS, PSD, FITS and the other ~35 formats it knows stay out of reach. MPO (multi-picture
# JPEG from phones) is opened by the JPEG plugin.
FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF", "BMP", "TIFF")
FORMAT_NAMES = "JPEG, PNG, WebP, AVIF, GIF, BMP or TIFF"

ImageInput = str | Path | bytes | bytearray | np.ndarray

# Decoding a large image briefly takes about 3.5 bytes a pixel on top of the result (Pillow's
# buffer, then NumPy's): one such decode at a time per process bounds that peak, whatever
# the number of worker threads.
LARGE_DECODE_PIXELS = 12_000_000
_ONE_LARGE_DECODE = threading.Lock()


def load_image(source: ImageInput, budget: InputBudget = DEFAULT_BUDGET) -> np.ndarray:
    """Decode any supported input to an H×W×3 RGB uint8 array, within `budget`.

    Arrays are taken as RGB (H×W, H×W×3 or H×W×4); use `from_bgr` for OpenCV arrays.
    Every failure is a `FaceLensError` with a code.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, budget)
    if isinstance(source, (str, Path)):
        return decode_bytes(read_file(Path(source), budget), budget)
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"expected a path, bytes or a NumPy array, got {type(source).__name__}",
        )
    return decode_bytes(bytes(source), budget)


PathKind = Literal["file", "folder", "missing", "other"]


def read_file(path: Path, budget: InputBudget = DEFAULT_BUDGET) -> bytes:
    """An image file's bytes, within the budget; every failure a `not_an_image` FaceLensError."""
    kind = path_kind(path, ErrorCode.NOT_AN_IMAGE)
    if kind == "folder":
        raise FaceLensError(ErrorCode.NOT_AN_IMAGE, f"{shortened(path)} is a folder, not an image")
    if kind == "other":  # a device or a pipe: reading it could never end
        message = f"{shortened(path)} is not a regular file (a device or a pipe)"
        raise FaceLensError(ErrorCode.NOT_AN_IMAGE, message)
    if kind != "file":
        raise FaceLensError(ErrorCode.NOT_AN_IMAGE, f"no such file: {shortened(path)}")
    try:
        budget.check_bytes(path.stat().st_size)
        return path.read_bytes()
    except OSError as error:  # unreadable, a name too long, a file vanishing meanwhile
        raise FaceLensError(
            ErrorCode.NOT_AN_IMAGE,
            f"{shortened(path)} could not be read: {error.strerror or error}",
        ) from None


def path_kind(path: str | os.PathLike[str], code: ErrorCode) -> PathKind:
    """ "file", "folder" or "missing" (anything else: "other"). A path the operating system
    refuses outright (a name too long for the file system, on which Python's own checks
    raise rather than answer) is a FaceLensError with `code`."""
    path = Path(path)
    try:
        if path.is_file():
            return "file"
        if path.is_dir():
            return "folder"
        return "other" if path.exists() else "missing"
    except OSError as error:
        raise FaceLensError(code, os_problem(path, error)) from None


def os_problem(path: object, error: OSError) -> str:
    """ "PATH: reason" for a message about an operating-system error (the path shortened)."""
    return f"{shortened(path)}: {error.strerror or error}"


def shortened(name: object, keep: int = 80) -> str:
    """A path or name for a message: its start and end when it is longer than `keep`."""
    text = str(name)
    return text if len(text) <= keep else f"{text[: keep // 2]}…{text[-keep // 4 :]}"


def decode_bytes(data: bytes, budget: InputBudget = DEFAULT_BUDGET) -> np.ndarray:
    """Decode an encoded image; the budget is checked on the header, before any pixel."""
    if not data:
        raise FaceLensError(ErrorCode.EMPTY_INPUT, "the image is empty (0 bytes)")
    budget.check_bytes(len(data))
    image = _open(data, budget)
    budget.check_size(image.width, image.height, image.mode)
    large = image.width * image.height > LARGE_DECODE_PIXELS
    with _ONE_LARGE_DECODE if large else nullcontext():
        return _decode_pixels(image)


def _decode_pixels(image: Image.Image) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd but readable files
            image.load()  # the first frame only: animations and multi-page files stop here
    except Exception as error:
        raise FaceLensError(
            ErrorCode.TRUNCATED_IMAGE,
            f"the {image.format} image is damaged or incomplete: {_reason(error)}",
        ) from None
    try:
        ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of a big image
    except Exception:  # a broken EXIF block: keep the pixels as stored
        pass
    try:
        return _to_rgb(image)
    finally:
        image.close()  # Pillow's own buffer goes now, not at the next garbage collection


def _open(data: bytes, budget: InputBudget) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise FaceLensError(
            ErrorCode.NOT_AN_IMAGE, f"the data is not a {FORMAT_NAMES} image"
        ) from None
    except Image.DecompressionBombError as bomb:  # Pillow's own check, at 357 million pixels
        found = re.search(r"\((\d+) pixels\)", str(bomb))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise FaceLensError(
            ErrorCode.TOO_LARGE,
            f"the image has {size}, more than the limit of {budget.max_pixels:,} pixels",
        ) from None
    except Exception as error:  # a header Pillow chokes on (truncated, bad chunk, text bomb)
        raise FaceLensError(
            ErrorCode.NOT_AN_IMAGE, f"the image header could not be read: {_reason(error)}"
        ) from None


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def _to_rgb(image: Image.Image) -> np.ndarray:
    try:
        return _pixels_to_rgb(image)
    except (OSError, ValueError) as error:  # a mode Pillow cannot convert (LAB, odd TIFFs)
        raise FaceLensError(
            ErrorCode.NOT_AN_IMAGE,
            f"the {image.mode} pixels could not be converted to RGB: {_reason(error)}",
        ) from None


def _pixels_to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit int) grayscale: scale to 8 bits by the actual range of the type.
        values = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if values.max(initial=0) > 255 or image.mode.startswith("I;16") else 255.0
        return _gray_to_rgb(values * (255.0 / peak))
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), posinf=0.0, neginf=0.0)
        return _gray_to_rgb(values * (255.0 if values.max(initial=0) <= 1.0 else 1.0))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white, as a viewer shows them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode == "L":  # 1 byte a pixel until the last step (Pillow's RGB takes 4)
        return _gray_to_rgb(np.asarray(image))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _gray_to_rgb(values: np.ndarray) -> np.ndarray:
    gray = values if values.dtype == np.uint8 else np.clip(values + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _from_array(array: np.ndarray, budget: InputBudget) -> np.ndarray:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise FaceLensError(
            ErrorCode.BAD_ARRAY, f"expected an H×W, H×W×3 or H×W×4 array, got shape {array.shape}"
        )
    if array.size == 0:
        raise FaceLensError(ErrorCode.EMPTY_INPUT, "the image array is empty")
    budget.check_size(array.shape[1], array.shape[0])
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise FaceLensError(ErrorCode.BAD_ARRAY, f"unsupported array dtype {array.dtype}")
        array = np.nan_to_num(array.astype(np.float32), posinf=0.0, neginf=0.0)
        scale = 255.0 if float(array.max()) <= 1.0 else 1.0
        array = np.clip(array * scale + 0.5, 0, 255).astype(np.uint8)
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
