"""What this server offers: the page asks once and enables its controls to match."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from facelens.api.deps import FEATURES, has_feature, settings_of
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT, operating_points

router = APIRouter(tags=["info"])


class Info(BaseModel):
    version: str
    features: dict[str, bool]
    operating_points: list[str]
    default_operating_point: str
    max_upload_bytes: int
    max_pixels: int
    embedder: str  # the recogniser behind /v1/embed and /v1/verify (its operating points above)
    detector: str
    gallery_embedder: str | None  # the gallery's own, from its record (None: no gallery)


@router.get("/info", summary="Features, operating points and limits of this server")
async def info(request: Request) -> Info:
    settings = settings_of(request)
    lens, gallery = request.app.state.lens, getattr(request.app.state, "gallery", None)
    return Info(
        version=request.app.version,
        features={
            **{name: has_feature(name) for name in FEATURES},
            "gallery": getattr(request.app.state, "gallery", None) is not None,
        },
        operating_points=operating_points(lens.embedder_name),
        default_operating_point=DEFAULT_OPERATING_POINT,
        max_upload_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_pixels,
        embedder=lens.embedder_name,
        detector=lens.detector_name,
        gallery_embedder=gallery.lens.embedder_name if gallery is not None else None,
    )
