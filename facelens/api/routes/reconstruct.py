"""Reconstructions: a face decoded from its embedding (what the recogniser keeps of it), as
numbers and as a rendered panel the page shows."""

from __future__ import annotations

import base64

import cv2
import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from facelens.api.deps import image_body, lens_of, request_images, run_cpu
from facelens.api.errors import ERROR_RESPONSES
from facelens.explain import Reconstruction, ReconstructionPair, pair, reconstruct
from facelens.explain import reconstruct_pair as reconstruct_two
from facelens.explain.render_reconstruction import (
    NOTE,
    reconstruction_pair_panel,
    reconstruction_panel,
)

router = APIRouter(prefix="/explain", tags=["explain"], responses=ERROR_RESPONSES)


class ReconstructResult(BaseModel):
    reconstruction: Reconstruction
    panel: str = Field(description="base64 PNG: face, reconstruction, regions encoded, legend")
    note: str = NOTE


class ReconstructPairResult(BaseModel):
    reconstruction: ReconstructionPair
    panel: str = Field(description="base64 PNG: both reconstructions, where they differ, legend")
    note: str = NOTE


def _png(picture: np.ndarray) -> str:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    assert ok
    return base64.b64encode(encoded.tobytes()).decode()


def reconstruct_one(rgb: np.ndarray, face: int, embedder: str) -> ReconstructResult:
    result = reconstruct(rgb, face, embedder)
    return ReconstructResult(reconstruction=result, panel=_png(reconstruction_panel(result)))


def reconstruct_both(
    rgb_a: np.ndarray, rgb_b: np.ndarray, face_a: int, face_b: int, maps: bool, embedder: str
) -> ReconstructPairResult:
    pair_maps = (
        pair(rgb_a, rgb_b, "gradient", face_a=face_a, face_b=face_b, faithfulness=False)
        if maps
        else None
    )
    result = reconstruct_two(rgb_a, rgb_b, face_a, face_b, embedder, pair_maps=pair_maps)
    return ReconstructPairResult(
        reconstruction=result, panel=_png(reconstruction_pair_panel(result))
    )


@router.post(
    "/reconstruct",
    openapi_extra=image_body("image"),
    summary="What the embedding keeps of a face",
)
async def reconstruct_face(
    request: Request, face: int = Query(0, ge=0, description="face index (0: the largest)")
) -> ReconstructResult:
    """The face decoded from its embedding and the regions the embedding encodes."""
    (rgb,), _ = await request_images(request, "image")
    embedder = lens_of(request).embedder_name
    return await run_cpu(request, reconstruct_one, rgb, face, embedder)


@router.post(
    "/reconstruct/pair",
    openapi_extra=image_body("image_a", "image_b"),
    summary="Both faces' reconstructions and where they differ",
)
async def reconstruct_pair(
    request: Request,
    face_a: int = Query(0, ge=0),
    face_b: int = Query(0, ge=0),
    maps: bool = Query(False, description="add the similar/dissimilar maps (gradient, ~3 s)"),
) -> ReconstructPairResult:
    """Reconstructions of both faces, where they differ and, on request, the pair maps."""
    (rgb_a, rgb_b), _ = await request_images(request, "image_a", "image_b")
    embedder = lens_of(request).embedder_name
    return await run_cpu(request, reconstruct_both, rgb_a, rgb_b, face_a, face_b, maps, embedder)
