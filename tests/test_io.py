"""Decoding: every supported layout becomes RGB uint8; bad input gets a named error."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facelens.budget import InputBudget
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import decode_bytes, from_bgr, load_image


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def gradient(width: int = 40, height: int = 30) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, :, 0] = x
    rgb[:, :, 1] = 255 - x
    rgb[:, :, 2] = np.arange(height, dtype=np.uint8)[:, None] * 8
    return rgb


def test_rgb_png_round_trip():
    rgb = gradient()
    assert np.array_equal(decode_bytes(encode(Image.fromarray(rgb))), rgb)


def test_grayscale_becomes_three_equal_channels():
    gray = gradient()[:, :, 0]
    out = decode_bytes(encode(Image.fromarray(gray, "L")))
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :, 0], gray) and np.array_equal(out[:, :, 2], gray)


def test_16_bit_png_is_scaled_not_clipped():
    values = (np.arange(40, dtype=np.uint16) * 1600)[None, :].repeat(30, axis=0)
    out = decode_bytes(encode(Image.fromarray(values)))
    assert out.shape == (30, 40, 3)
    expected = np.clip(values / 65535 * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(out[:, :, 0].astype(int) - expected).max() <= 1
    assert out[0, -1, 0] > 200  # a bright 16-bit value stays bright


def test_rgba_transparent_pixels_become_white():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:, :10] = [255, 0, 0, 255]  # opaque red on the left, transparent on the right
    out = decode_bytes(encode(Image.fromarray(rgba, "RGBA")))
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 19].tolist() == [255, 255, 255]


def test_cmyk_jpeg_decodes_to_rgb():
    cmyk = Image.fromarray(gradient()).convert("CMYK")
    out = decode_bytes(encode(cmyk, "JPEG", quality=95))
    assert out.shape == (30, 40, 3)
    assert np.abs(out.astype(int) - gradient().astype(int)).mean() < 12


def test_exif_orientation_is_applied():
    rgb = gradient(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = decode_bytes(encode(Image.fromarray(rgb), "JPEG", quality=95, exif=exif))
    assert out.shape == (40, 30, 3)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ErrorCode.EMPTY_INPUT),
        (b"this is plain text, not a picture", ErrorCode.NOT_AN_IMAGE),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", ErrorCode.NOT_AN_IMAGE),
    ],
)
def test_bad_bytes_are_named(data: bytes, code: ErrorCode):
    with pytest.raises(FaceLensError) as caught:
        decode_bytes(data)
    assert caught.value.code == code


def test_truncated_jpeg_is_reported(fr_images):
    data = (fr_images / "tests/test_images/obama.jpg").read_bytes()
    with pytest.raises(FaceLensError) as caught:
        decode_bytes(data[: len(data) // 3])
    assert caught.value.code == ErrorCode.TRUNCATED_IMAGE


def test_pixel_bomb_is_refused_before_decoding():
    bomb = encode(Image.new("L", (4000, 3000)))  # compresses to a few kB
    assert len(bomb) < 100_000
    with pytest.raises(FaceLensError) as caught:
        decode_bytes(bomb, InputBudget(max_pixels=1_000_000))
    assert caught.value.code == ErrorCode.TOO_LARGE
    assert "4000x3000" in caught.value.message


def test_huge_header_is_refused_by_default():
    bomb = encode(Image.new("1", (20000, 10000)))  # 200 megapixels, a few kB on disk
    with pytest.raises(FaceLensError) as caught:
        decode_bytes(bomb)
    assert caught.value.code == ErrorCode.TOO_LARGE


def test_byte_limit():
    with pytest.raises(FaceLensError) as caught:
        decode_bytes(encode(Image.fromarray(gradient())), InputBudget(max_bytes=100))
    assert caught.value.code == ErrorCode.TOO_LARGE


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FaceLensError) as caught:
        load_image(tmp_path / "nope.jpg")
    assert caught.value.code == ErrorCode.NOT_AN_IMAGE and "nope.jpg" in caught.value.message


def test_a_device_or_a_pipe_is_refused_unread(tmp_path):
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)  # reading a pipe nobody writes to would block for ever
    for special in (pipe, Path("/dev/zero")):
        with pytest.raises(FaceLensError) as caught:
            load_image(special)
        assert caught.value.code == ErrorCode.NOT_AN_IMAGE
        assert "not a regular file" in caught.value.message


def test_file_name_is_not_trusted(tmp_path):
    disguised = tmp_path / "photo.txt"
    disguised.write_bytes(encode(Image.fromarray(gradient()), "JPEG"))
    assert load_image(disguised).shape == (30, 40, 3)


def test_arrays():
    rgb = gradient()
    assert np.array_equal(load_image(rgb), rgb)
    assert np.array_equal(load_image(from_bgr(rgb[:, :, ::-1])), rgb)
    assert load_image(rgb[:, :, 0]).shape == (30, 40, 3)
    assert load_image(rgb.astype(np.float32) / 255.0)[0, -1, 0] == 255
    with pytest.raises(FaceLensError) as caught:
        load_image(np.zeros((4, 4, 2), np.uint8))
    assert caught.value.code == ErrorCode.BAD_ARRAY


@pytest.mark.parametrize(
    ("size", "code", "named"),
    [
        ((65535, 1), ErrorCode.TOO_LARGE, "16,384"),  # the 141-byte PNG that killed the server
        ((1000, 1), ErrorCode.BAD_DIMENSIONS, "at least 16"),
        ((1, 4000), ErrorCode.BAD_DIMENSIONS, "at least 16"),
        ((2000, 40), ErrorCode.BAD_DIMENSIONS, "50.0:1"),
        ((20000, 2000), ErrorCode.TOO_LARGE, "16,384"),
    ],
)
def test_shapes_over_budget_are_refused_from_the_header(size, code, named):
    data = encode(Image.new("L", size))
    assert len(data) < 50_000
    with pytest.raises(FaceLensError) as caught:
        decode_bytes(data)
    assert caught.value.code == code and named in caught.value.message
    with pytest.raises(FaceLensError) as caught:  # the same budget for arrays
        load_image(np.zeros((size[1], size[0], 3), np.uint8))
    assert caught.value.code == code


def test_decoded_bytes_are_budgeted_by_mode():
    # 3000x3000 pixels pass the pixel limit; as 32-bit integers they take 36 MB decoded.
    data = encode(Image.new("I", (3000, 3000)), "TIFF", compression="tiff_deflate")
    budget = InputBudget(max_decoded_bytes=20_000_000)
    with pytest.raises(FaceLensError) as caught:
        decode_bytes(data, budget)
    assert caught.value.code == ErrorCode.TOO_LARGE and "36,000,000" in caught.value.message
    assert decode_bytes(encode(Image.new("L", (3000, 3000))), budget).shape == (3000, 3000, 3)


def test_formats_outside_the_list_are_not_opened():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n"
    with pytest.raises(FaceLensError) as caught:
        decode_bytes(eps)
    assert caught.value.code == ErrorCode.NOT_AN_IMAGE and "JPEG, PNG" in caught.value.message
    # PPM is a format Pillow reads, but not one facelens accepts.
    with pytest.raises(FaceLensError):
        decode_bytes(encode(Image.fromarray(gradient()), "PPM"))


def test_avif_decodes():
    rgb = np.full((32, 48, 3), (200, 120, 40), np.uint8)
    out = decode_bytes(encode(Image.fromarray(rgb), "AVIF", quality=95))
    assert out.shape == (32, 48, 3) and np.abs(out.astype(int) - rgb).max() < 12


def test_header_failures_are_errors_not_exceptions(fr_images):
    jpeg = (fr_images / "tests/test_images/obama.jpg").read_bytes()
    png = encode(Image.fromarray(gradient()))
    for broken in (jpeg[:300], b"BM" + b"text, not a bitmap " * 4, png[:40]):
        with pytest.raises(FaceLensError) as caught:
            decode_bytes(broken)
        assert caught.value.code in (ErrorCode.NOT_AN_IMAGE, ErrorCode.TRUNCATED_IMAGE)


def test_tiles_are_budgeted():
    from facelens.lens import FaceLens

    with pytest.raises(FaceLensError) as caught:
        FaceLens().detect(gradient(64, 64), tiles=9)
    assert caught.value.code == ErrorCode.BAD_ARGUMENT and "1 to 4" in caught.value.message


def test_detector_views_are_bounded_even_past_the_decoder():
    from facelens.detection.blazeface import detector

    # The old failure: a 1-pixel-high strip tiled into ~87,000 one-pixel views.
    with pytest.raises(FaceLensError) as caught:
        detector().detect(np.zeros((1, 65535, 3), np.uint8), tiles=2)
    assert caught.value.code == ErrorCode.TOO_LARGE and "views" in caught.value.message
