"""Property-based fuzzing of the decoder: whatever the bytes, the answer is an RGB uint8
array within the budget or a FaceLensError with a code; never another exception.

Bounded for CI (a few hundred derandomised examples per property, about 10 s)."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facelens.budget import DEFAULT_BUDGET
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import decode_bytes

BOUNDED = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
DECODE_CODES = {
    ErrorCode.EMPTY_INPUT,
    ErrorCode.NOT_AN_IMAGE,
    ErrorCode.TRUNCATED_IMAGE,
    ErrorCode.TOO_LARGE,
    ErrorCode.BAD_DIMENSIONS,
}


def _seeds() -> list[bytes]:
    """One small valid file per accepted format and a few pixel layouts."""
    ramp = np.linspace(0, 255, 48 * 40 * 3).astype(np.uint8).reshape(40, 48, 3)
    rgb = Image.fromarray(ramp)
    out = []
    for image, fmt in (
        (rgb, "JPEG"),
        (rgb, "PNG"),
        (rgb.convert("P"), "PNG"),
        (rgb.convert("RGBA"), "PNG"),
        (rgb, "GIF"),
        (rgb, "BMP"),
        (rgb, "TIFF"),
        (rgb.convert("CMYK"), "JPEG"),
        (rgb, "WEBP"),
        (rgb, "AVIF"),
    ):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        out.append(buffer.getvalue())
    return out


SEEDS = _seeds()


def decodes_or_names_the_problem(data: bytes) -> None:
    try:
        rgb = decode_bytes(data)
    except FaceLensError as error:
        assert error.code in DECODE_CODES and error.message
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    height, width = rgb.shape[:2]
    assert DEFAULT_BUDGET.min_side <= min(height, width)
    assert width * height <= DEFAULT_BUDGET.max_pixels


@BOUNDED
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes):
    decodes_or_names_the_problem(data)


@BOUNDED
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12),
    keep=st.integers(1, 100),  # percent (no float strategy: a loaded library sets FTZ)
)
def test_mutated_images(seed: bytes, edits: list[tuple[int, int]], keep: int):
    data = bytearray(seed)
    for position, value in edits:  # overwrite bytes, headers included
        data[position % len(data)] = value
    decodes_or_names_the_problem(bytes(data[: max(1, len(data) * keep // 100)]))


@BOUNDED
@given(seed=st.sampled_from(SEEDS), junk=st.binary(min_size=1, max_size=64), at=st.integers(0))
def test_inserted_bytes(seed: bytes, junk: bytes, at: int):
    at %= len(seed)
    decodes_or_names_the_problem(seed[:at] + junk + seed[at:])
