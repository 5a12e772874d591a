"""Quality of every face, with the region to trust and (on request) a heat map."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Query, Request

from facelens.api.deps import image_body, lens_of, request_images, run_cpu
from facelens.api.errors import ERROR_RESPONSES
from facelens.api.heatmaps import HeatMap, overlay
from facelens.api.logs import note_faces
from facelens.detection.align import align_faces
from facelens.errors import ErrorCode, FaceLensError
from facelens.lens import FaceLens, _faces
from facelens.types import ImageResult

router = APIRouter(tags=["quality"], responses=ERROR_RESPONSES)


class QualityReport(ImageResult):
    """ImageResult (every face with `quality`), plus one heat map per face on request:
    green regions raise the score, red ones lower it."""

    heatmaps: list[HeatMap] | None = None


def assess(lens: FaceLens, rgb: np.ndarray, heatmap: bool, embedding: bool) -> QualityReport:
    from facelens.quality import assess_quality

    # As FaceLens.analyze does, but asking for the heat maps it does not pass through.
    detections = lens.detector.detect(rgb)
    faces = _faces(detections)
    if not faces:
        raise FaceLensError(ErrorCode.NO_FACE, "no face was found in the image")
    qualities = assess_quality(rgb, detections, lens.embedder, heatmap=heatmap)
    for face, quality in zip(faces, qualities, strict=True):
        face.quality = quality
    if embedding:
        for face, vector in zip(faces, lens.embed_mesh(rgb, detections.mesh), strict=True):
            face._embedding = vector
            face.embedding = [round(float(v), 6) for v in vector]
    maps = None
    if heatmap:
        template = lens.embedder.template  # the chips quality measures on
        _, matrices = align_faces(rgb, detections.points, template)
        maps = [
            overlay(q.heatmap, m, template.size, rgb.shape[:2], signed=True)
            for q, m in zip(qualities, matrices, strict=True)
            if q.heatmap is not None
        ]
    return QualityReport(width=rgb.shape[1], height=rgb.shape[0], faces=faces, heatmaps=maps)


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
