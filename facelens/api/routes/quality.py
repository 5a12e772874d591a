"""Quality of every face, with the region to trust and (on request) a heat map."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Query, Request

from facelens.api.deps import image_body, lens_of, request_images, run_cpu
from facelens.api.errors import ERROR_RESPONSES
from facelens.api.heatmaps import HeatMap, overlay
from facelens.api.logs import note_faces
from facelens.errors import ErrorCode, FaceLensError
from facelens.lens import FaceLens
from facelens.types import ImageResult

router = APIRouter(tags=["quality"], responses=ERROR_RESPONSES)


class QualityReport(ImageResult):
    """ImageResult (every face with `quality`), plus one heat map per face on request:
    green regions raise the score, red ones lower it."""

    heatmaps: list[HeatMap] | None = None


def assess(lens: FaceLens, rgb: np.ndarray, heatmap: bool, embedding: bool) -> QualityReport:
    result = lens.analyze(
        rgb, quality=True, attributes=False, embedding=embedding, quality_heatmap=heatmap
    )
    if not result.faces:
        raise FaceLensError(ErrorCode.NO_FACE, "no face was found in the image")
    maps = None
    if heatmap:
        size = lens.quality_embedder.template.size  # the chip quality measures on
        maps = [
            overlay(q.heatmap, q.chip_matrix, size, rgb.shape[:2], signed=True)
            for q in (face.quality for face in result.faces)
            if q is not None and q.heatmap is not None and q.chip_matrix is not None
        ]
    return QualityReport(**dict(result), heatmaps=maps)


@router.post("/quality", openapi_extra=image_body("image"), summary="Face image quality")
async def quality(
    request: Request,
    heatmap: bool = Query(False, description="add a heat map per face (slower)"),
    embedding: bool = Query(False, description="include the 128-d embedding"),
) -> QualityReport:
    """Score in [0, 1], band, verdict (ok / low / retake), reasons, ISO/IEC 29794-5 style
    components and the trustworthy region; 422 `no_face` when there is no face."""
    (rgb,), _ = await request_images(request, "image")
    result = await run_cpu(request, assess, lens_of(request), rgb, heatmap, embedding)
    note_faces(request, result.faces)
    return result
