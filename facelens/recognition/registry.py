"""Embedders by name: `FaceLens(embedder="sface")`, `facelens eval lfw --embedder fused`."""

from __future__ import annotations

import threading

from facelens.errors import ErrorCode, FaceLensError
from facelens.models.onnx_model import shared
from facelens.recognition.base import Embedder, NetworkEmbedder
from facelens.recognition.dlib import DlibEmbedder
from facelens.recognition.fused import FusedEmbedder
from facelens.recognition.names import DEFAULT_EMBEDDER, EMBEDDER_NAMES
from facelens.recognition.sface import SFaceEmbedder

__all__ = ["DEFAULT_EMBEDDER", "EMBEDDER_NAMES", "check_embedder", "get_embedder", "get_network"]

NETWORKS: dict[str, type[NetworkEmbedder]] = {"dlib": DlibEmbedder, "sface": SFaceEmbedder}
assert set(EMBEDDER_NAMES) == {*NETWORKS, "fused"}
# [SFace, w·dlib]: w chosen on all ten LFW folds (`facelens eval lfw --embedder fused`
# reports it as `weight_all_folds`; its accuracy is measured with w chosen on nine folds).
FUSION_WEIGHT = 1.7

_fused: FusedEmbedder | None = None
_lock = threading.Lock()


def check_embedder(name: str) -> str:
    if name not in EMBEDDER_NAMES:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"unknown embedder {name!r}; choose one of {list(EMBEDDER_NAMES)}",
        )
    return name


def get_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """The process-wide instance of the named embedder (each network loads once)."""
    global _fused
    if check_embedder(name) in NETWORKS:
        return get_network(name)
    with _lock:
        if _fused is None:
            _fused = FusedEmbedder(get_network("sface"), get_network("dlib"), FUSION_WEIGHT)
        return _fused


def get_network(name: str) -> NetworkEmbedder:
    """The process-wide instance of one network (`dlib`, `sface`)."""
    return shared(NETWORKS[name])  # type: ignore[return-value]
