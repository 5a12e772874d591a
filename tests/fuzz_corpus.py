"""A corpus of hostile inputs, generated (no binary file is committed).

    python tests/fuzz_corpus.py OUT_DIR [--seed-image PATH]

writes every image-shaped case as a file (for the CLI, folder runs and the soak benchmark).
`image_cases()` gives the same bytes in memory; `json_cases()` and `multipart_cases()` are the
request bodies only REST can receive. Each case is named by what it tries.
"""

from __future__ import annotations

import argparse
import gzip
import io
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SEED_IMAGE = (
    Path(__file__).resolve().parents[2] / "shared/data/face_recognition/tests/test_images/obama.jpg"
)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, idat: bytes, depth: int = 8, colour: int = 0, *extra) -> bytes:
    """A PNG written chunk by chunk, so its header can say anything."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + b"".join(extra)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def blank_png(width: int, height: int) -> bytes:
    """A black grayscale PNG of any size in a few hundred bytes (rows of zeros deflate well)."""
    rows = zlib.compressobj(9)
    row = bytes(width + 1)
    body = b"".join(rows.compress(row) for _ in range(height)) + rows.flush()
    return png(width, height, body)


# 50 MB of zeros in 49 kB: more than any text or ICC chunk may inflate to.
BOMB = zlib.compress(bytes(50_000_000), 9)


def small_png_with(*extra: bytes) -> bytes:
    """A valid 64x64 black PNG carrying extra chunks before its pixels."""
    return png(64, 64, zlib.compress(bytes(65 * 64)), 8, 0, *extra)


def gif_frames(count: int, side: int = 16) -> bytes:
    """An animated GIF of `count` one-pixel frames, built block by block."""
    head = (
        b"GIF89a" + struct.pack("<HH", side, side) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    )
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (
        b"!\xf9\x04\x00\x01\x00\x00\x00" + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00"
    )
    return head + loop + frame * count + b";"


def with_sof_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header claiming another size."""
    at = max(jpeg.rfind(m) for m in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"))
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def flipped(data: bytes, seed: int, flips: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    for at in rng.integers(2, len(out), flips):
        out[at] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def exif_bomb(jpeg: bytes) -> bytes:
    """An APP1 EXIF segment at its 64 kB maximum whose IFD points at itself."""
    ifd = struct.pack("<H", 3)
    ifd += struct.pack("<HHII", 0x0112, 3, 1, 9)  # orientation 9: no such value
    ifd += struct.pack("<HHII", 0x8769, 4, 1, 8)  # Exif IFD pointing back at IFD0: a loop
    ifd += struct.pack("<HHII", 0x010F, 2, 60000, 50)  # a 60 kB "camera make"
    ifd += struct.pack("<I", 8)  # next IFD: itself again
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    payload = b"Exif\x00\x00" + tiff + b"A" * (65533 - 8 - len(tiff))
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def frames(fmt: str, count: int, **params) -> bytes:
    images = [Image.new("RGB", (16, 16), (i % 256, (i * 7) % 256, 0)) for i in range(count)]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], **params)


def image_cases(seed: bytes | None = None) -> dict[str, bytes]:
    """Name -> bytes; every one is something a client could upload as an image."""
    jpeg = seed if seed is not None else SEED_IMAGE.read_bytes()
    photo = Image.open(io.BytesIO(jpeg)).convert("RGB")
    small = photo.resize((64, 64))
    good_png = encode(small, "PNG")
    gray = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    cases: dict[str, bytes] = {
        "empty": b"",
        "one_byte": b"\xff",
        "text": b"hello, this is not a picture\n" * 4,
        "html": b"<!doctype html><script>alert(1)</script>",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"/>',
        "pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n",
        "psd_header": b"8BPS\x00\x01" + bytes(6) + b"\x00\x03" + struct.pack(">II", 9999, 9999),
        "ppm_not_accepted": encode(small, "PPM"),
        "ico_not_accepted": encode(small, "ICO"),
        "bmp_holding_text": b"BM" + b"this is text, not a bitmap " * 8,
        "zip_bomb": _zip_bomb(),
        "gzip_bomb": gzip.compress(bytes(20_000_000), 9),
        "gzip_of_a_jpeg": gzip.compress(jpeg),
        "polyglot_jpeg_zip": jpeg + _zip_bomb(),
        "polyglot_pdf_jpeg": b"%PDF-1.4\n" + jpeg,
        "polyglot_gif_js": b"GIF89a=1;alert(1);" + bytes(64),
        "polyglot_png_html": small_png_with(chunk(b"tEXt", b"x\x00<script>alert(1)</script>")),
        "jpeg_then_png": jpeg + good_png,
        # Extreme shapes: the 141-byte PNG that killed the server, and its relatives.
        "png_65535x1": blank_png(65535, 1),
        "png_1x65535": blank_png(1, 65535),
        "png_1000x1": blank_png(1000, 1),
        "png_4000x1": blank_png(4000, 1),
        "png_1x4000": blank_png(1, 4000),
        "png_1x1": blank_png(1, 1),
        "png_16384x16": blank_png(16384, 16),
        "png_16000x800_at_the_aspect_limit": blank_png(16000, 800),
        "png_8000x6000_largest_allowed": blank_png(8000, 6000),
        "png_header_20000x20000": png(20000, 20000, zlib.compress(bytes(20001 * 64))),
        "png_header_65535x65535": png(65535, 65535, zlib.compress(bytes(1000))),
        "png_header_zero_width": png(0, 64, zlib.compress(bytes(64))),
        "png_header_2e9_wide": png(2**31 - 1, 16, b""),
        "jpeg_claims_65500x65500": with_sof_size(jpeg, 65500, 65500),
        "jpeg_claims_0x0": with_sof_size(jpeg, 0, 0),
        "jpeg_claims_60000x1": with_sof_size(jpeg, 60000, 1),
        "gif_screen_65535x65535": b"GIF89a\xff\xff\xff\xff\x00\x00\x00;",
        "bmp_claims_huge": b"BM"
        + struct.pack("<IHHI", 70, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, 60000, -60000, 1, 24, 0, 0, 0, 0, 0, 0)
        + bytes(16),
        "tiff_bad_ifd_offset": b"II*\x00" + struct.pack("<I", 0x7FFFFFF0) + bytes(16),
        "tiff_ifd_loop": b"II*\x00\x08\x00\x00\x00\x01\x00"
        + struct.pack("<HHII", 256, 4, 1, 64)
        + struct.pack("<I", 8),
        "webp_bad_riff_size": b"RIFF\xff\xff\xff\xffWEBPVP8 " + bytes(32),
        "avif_truncated_ftyp": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
        # Truncations of every format at several offsets.
        **{f"jpeg_cut_at_{n}": jpeg[:n] for n in (2, 3, 20, 100, 300, 1000)},
        **{f"jpeg_cut_at_{p}pct": jpeg[: len(jpeg) * p // 100] for p in (33, 50, 90, 99)},
        **{
            f"png_cut_at_{n}": good_png[:n]
            for n in (8, 16, 33, 60, len(good_png) // 2, len(good_png) - 12)
        },
        **{
            f"{fmt.lower()}_cut_in_half": _cut(encode(small, fmt))
            for fmt in ("GIF", "BMP", "TIFF", "WEBP", "AVIF")
        },
        **{
            f"{name}_magic_then_noise": magic + np.random.default_rng(len(magic)).bytes(4000)
            for name, magic in _MAGICS.items()
        },
        **{f"jpeg_bitflips_{k}": flipped(jpeg, k, 40) for k in range(4)},
        "png_bad_crc": good_png[:33] + good_png[33:41] + b"\x00\x00\x00\x00" + good_png[45:],
        "png_ztxt_bomb": small_png_with(chunk(b"zTXt", b"k\x00\x00" + BOMB)),
        "png_itxt_bomb": small_png_with(chunk(b"iTXt", b"k\x00\x01\x00\x00\x00" + BOMB)),
        "png_iccp_bomb": small_png_with(chunk(b"iCCP", b"p\x00\x00" + BOMB)),
        "png_10000_text_chunks": small_png_with(*[chunk(b"tEXt", b"k\x00v")] * 10_000),
        "png_idat_zlib_bomb": png(4000, 4000, zlib.compress(bytes(200_000_000), 9)),
        "jpeg_exif_bomb_loop": exif_bomb(jpeg),
        # Pixel layouts: palette, alpha, 16-bit, float, 1-bit, CMYK, odd modes.
        "palette_png": encode(small.convert("P"), "PNG"),
        "palette_transparent_png": encode(small.convert("P"), "PNG", transparency=0),
        "la_png": encode(small.convert("LA"), "PNG"),
        "rgba_fully_transparent_png": encode(Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "PNG"),
        "gray16_png": encode(Image.fromarray((gray * 65535).astype(np.uint16)), "PNG"),
        "int32_tiff": encode(Image.fromarray((gray * 2**30).astype(np.int32)), "TIFF"),
        "float_tiff_nan_inf": encode(
            Image.fromarray(np.where(gray > 0.5, np.nan, np.inf).astype(np.float32)), "TIFF"
        ),
        "bilevel_png": encode(small.convert("1"), "PNG"),
        "cmyk_jpeg": encode(photo.convert("CMYK"), "JPEG"),
        "cmyk_tiff": encode(small.convert("CMYK"), "TIFF"),
        "lab_tiff": encode(small.convert("LAB"), "TIFF"),
        "ycbcr_jpeg_as_tiff": encode(small.convert("YCbCr"), "TIFF"),
        # Many frames: only the first may be decoded.
        "gif_10000_frames": gif_frames(10_000),
        "apng_1000_frames": frames("PNG", 1000),
        "webp_300_frames": frames("WEBP", 300),
        "tiff_1000_pages": frames("TIFF", 1000),
    }
    return cases


_MAGICS = {
    "jpeg": b"\xff\xd8\xff\xe0",
    "png": b"\x89PNG\r\n\x1a\n",
    "gif": b"GIF89a",
    "bmp": b"BM",
    "tiff_le": b"II*\x00",
    "tiff_be": b"MM\x00*",
    "webp": b"RIFF\x00\x10\x00\x00WEBPVP8L",
    "avif": b"\x00\x00\x00\x20ftypavif",
}


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.jpg", bytes(50_000_000))
    return buffer.getvalue()


def json_cases(image_b64: str) -> dict[str, bytes]:
    """Raw JSON bodies (Content-Type: application/json)."""
    deep = 100_000
    return {
        "json_nested_arrays": b"[" * deep + b"]" * deep,
        "json_nested_objects": b'{"a":' * deep + b"1" + b"}" * deep,
        "json_image_nested": b'{"image":' + b"[" * deep + b"]" * deep + b"}",
        "json_million_items": b"[" + b"0," * 1_000_000 + b"0]",
        "json_million_keys": b"{" + b",".join(b'"k%d":0' % i for i in range(200_000)) + b"}",
        "json_huge_number": b'{"image": 1e999999}',
        "json_not_utf8": b'{"image": "\xff\xfe\xfd"}',
        "json_null_image": b'{"image": null}',
        "json_list_image": b'{"image": []}',
        "json_bom": b'\xef\xbb\xbf{"image": "' + image_b64.encode() + b'"}',
        "json_duplicate_keys": b'{"image": "AAAA", "image": "' + image_b64.encode() + b'"}',
        "json_bad_data_url": b'{"image": "data:image/png;base64,!!!!"}',
        "json_truncated": b'{"image": "' + image_b64.encode()[:100],
        "json_string_body": b'"just a string"',
        "json_empty": b"",
    }


def multipart_cases(image: bytes) -> dict[str, tuple[bytes, str]]:
    """Raw multipart bodies with their Content-Type header."""
    b = "XyZ"
    part = f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
    ok_type = f"multipart/form-data; boundary={b}"
    many_fields = "".join(
        f'--{b}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n' for i in range(2000)
    )
    many_files = "".join(
        f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="{i}.jpg"\r\n\r\nx\r\n'
        for i in range(500)
    )
    return {
        "multipart_no_boundary": (part.encode() + image, "multipart/form-data"),
        "multipart_wrong_boundary": (
            part.encode() + image + f"\r\n--{b}--".encode(),
            "multipart/form-data; boundary=other",
        ),
        "multipart_truncated": (part.encode() + image[:500], ok_type),
        "multipart_2000_fields": ((many_fields + f"--{b}--\r\n").encode(), ok_type),
        "multipart_500_files": ((many_files + f"--{b}--\r\n").encode(), ok_type),
        "multipart_empty_file": ((part + f"\r\n--{b}--\r\n").encode(), ok_type),
        "multipart_huge_field_name": (
            (
                part.replace('name="image"', f'name="{"n" * 100_000}"') + f"v\r\n--{b}--\r\n"
            ).encode(),
            ok_type,
        ),
        "multipart_binary_headers": (
            f"--{b}\r\n".encode() + bytes(range(256)) * 40 + f"\r\n--{b}--\r\n".encode(),
            ok_type,
        ),
        "multipart_header_only": (b"--" + b.encode(), ok_type),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed-image", type=Path, default=SEED_IMAGE)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cases = image_cases(args.seed_image.read_bytes())
    for name, data in cases.items():
        (args.out / f"{name}.jpg").write_bytes(data)
    print(f"{len(cases)} cases written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
