"""facelens: explainable face analysis.

from facelens import FaceLens
lens = FaceLens()
lens.verify("a.jpg", "b.jpg").same_person
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from facelens.errors import ErrorCode, FaceLensError
from facelens.types import Box, Face, ImageResult, Landmarks, Verification

__version__ = "0.1.0"
__all__ = [
    "Box",
    "ErrorCode",
    "Face",
    "FaceLens",
    "FaceLensError",
    "Gallery",
    "ImageResult",
    "Landmarks",
    "Verification",
]

if TYPE_CHECKING:
    from facelens.gallery.gallery import Gallery
    from facelens.lens import FaceLens


def __getattr__(name: str) -> Any:
    # FaceLens pulls in ONNX Runtime; import it only when asked for.
    if name == "FaceLens":
        from facelens.lens import FaceLens

        return FaceLens
    if name == "Gallery":
        from facelens.gallery.gallery import Gallery

        return Gallery
    raise AttributeError(name)
