"""Per-image results of long evaluations, kept under artifacts/eval-cache/ for reruns.

A cache file is named by what produced it: the image list, the detection code and weights
(any change to facelens/detection or a detection weight file makes a new key), and for
embeddings the network's weights. Delete the folder to start over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from facelens.models.onnx_model import WEIGHTS_DIR

CACHE_DIR = Path(__file__).resolve().parents[2] / "artifacts" / "eval-cache"
DETECTION_DIR = Path(__file__).resolve().parents[1] / "detection"
QUALITY_DIR = Path(__file__).resolve().parents[1] / "quality"
DETECTION_WEIGHTS = ("blazeface", "facemesh", "yunet", "iris")


def _digest(parts: list[bytes]) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(hashlib.sha256(part).digest())
    return hasher.hexdigest()[:16]


@cache
def detection_key() -> str:
    sources = sorted(DETECTION_DIR.glob("*.py")) + sorted(DETECTION_DIR.glob("*.json"))
    weights = sorted(p for p in WEIGHTS_DIR.glob("*.onnx") if p.stem.startswith(DETECTION_WEIGHTS))
    return _digest([p.name.encode() + p.read_bytes() for p in sources + weights])


@cache
def quality_key() -> str:
    """The quality code and its fitted parameters (verdicts depend on both)."""
    files = sorted(QUALITY_DIR.glob("*.py")) + sorted(QUALITY_DIR.glob("*.json"))
    return _digest([p.name.encode() + p.read_bytes() for p in files])


@cache
def weights_key(file_name: str) -> str:
    return _digest([(WEIGHTS_DIR / file_name).read_bytes()])


def cached(
    kind: str, names: list[str], extra: str, compute: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The arrays `compute()` returns, read back from disk when the same key was stored."""
    key = _digest(["\n".join(names).encode(), detection_key().encode(), extra.encode()])
    path = CACHE_DIR / f"{kind}-{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    arrays = compute()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(path)
    return arrays
