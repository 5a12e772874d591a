"""Small labelled samples of the shared data sets, as folders of links, for training tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def utkface_sample(data_dir: Path, root: Path, count: int) -> Path:
    """`count` evenly spaced UTKFace training faces linked into root/utkface-sample (the
    name tells a model card which terms apply)."""
    sample = root / "utkface-sample"
    sample.mkdir()
    files = sorted((data_dir / "utkface-train").glob("*.jpg"))
    for index in np.linspace(0, len(files) - 1, count).round().astype(int):
        (sample / files[index].name).symlink_to(files[index])
    return sample


def reencoded(photo: bytes, variant: int) -> bytes:
    """The same picture as other bytes (JPEG quality 95 - variant): a gallery refuses one
    photo (by content) for a second person, so tests that enrol one face under several
    names give each name its own copy."""
    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95 - variant])[1].tobytes()
