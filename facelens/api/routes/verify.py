"""Pair endpoint: are two faces the same person?"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from facelens.api.deps import image_body, lens_of, request_images, run_cpu
from facelens.api.errors import ERROR_RESPONSES
from facelens.api.logs import note_faces
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT
from facelens.types import Verification

router = APIRouter(tags=["verify"], responses=ERROR_RESPONSES)


@router.post("/verify", openapi_extra=image_body("image_a", "image_b"), summary="1:1 match")
async def verify(
    request: Request,
    operating_point: str = Query(DEFAULT_OPERATING_POINT, description="calibrated threshold"),
    face_a: int = Query(0, ge=0, description="face index in image_a (0: the largest)"),
    face_b: int = Query(0, ge=0, description="face index in image_b"),
    policy: str | None = Query(
        None, description="strict, lenient or identity_check: its own threshold and quality floor"
    ),
) -> Verification:
    """Similarity, threshold and decision, each face with its quality. `status` is `low`
    (decision for reference only) or `retake` (refused: `same_person` is null, `reasons`
    say why) when a face's quality does not allow a decision."""
    (rgb_a, rgb_b), _ = await request_images(request, "image_a", "image_b")
    options = {"policy": policy} if policy else {}
    result = await run_cpu(
        request, lens_of(request).verify, rgb_a, rgb_b, operating_point, face_a, face_b, **options
    )
    note_faces(request, [result.face_a, result.face_b])
    return result
