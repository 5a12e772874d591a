"""Single-image endpoints: detect, analyze, embed."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from facelens.api.deps import has_feature, lens_of, request_images, run_cpu
from facelens.api.deps import image_body as body
from facelens.api.errors import ERROR_RESPONSES
from facelens.api.logs import note_faces
from facelens.budget import DEFAULT_BUDGET
from facelens.errors import ErrorCode, FaceLensError
from facelens.types import ImageResult

router = APIRouter(tags=["faces"], responses=ERROR_RESPONSES)


@router.post("/detect", openapi_extra=body("image"), summary="Boxes, scores and landmarks")
async def detect(
    request: Request,
    tiles: int | None = Query(
        None, ge=1, le=DEFAULT_BUDGET.max_tiles, description="also search a tiles×tiles grid"
    ),
) -> ImageResult:
    """Every face, largest first. No face is an empty list, not an error."""
    (rgb,), _ = await request_images(request, "image")
    result = await run_cpu(request, lens_of(request).detect, rgb, tiles=tiles)
    note_faces(request, result.faces)
    return result


@router.post("/analyze", openapi_extra=body("image"), summary="Everything about every face")
async def analyze(
    request: Request,
    quality: bool = Query(True, description="assess each face's quality"),
    attributes: bool = Query(True, description="age, gender and expression"),
    embedding: bool = Query(False, description="include the 128-d embedding"),
) -> ImageResult:
    """Detection plus quality, attributes and (on request) embeddings, in one pass."""
    (rgb,), _ = await request_images(request, "image")
    result = await run_cpu(
        request,
        lens_of(request).analyze,
        rgb,
        # Parts not installed in this build are left out (their fields stay null).
        quality=quality and has_feature("quality"),
        attributes=attributes and has_feature("attributes"),
        embedding=embedding,
    )
    note_faces(request, result.faces)
    return result


@router.post("/embed", openapi_extra=body("image"), summary="Embedding of every face")
async def embed(request: Request) -> ImageResult:
    """`detect` plus an L2-normalised 128-d embedding per face; 422 `no_face` if none."""
    (rgb,), _ = await request_images(request, "image")
    result = await run_cpu(request, lens_of(request).embed, rgb)
    note_faces(request, result.faces)
    if not result.faces:
        raise FaceLensError(ErrorCode.NO_FACE, "no face was found in the image")
    return result
