"""Explanations: what the model looked at, as heat maps the page draws over the photos."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from facelens.api.deps import image_body, lens_of, request_images, run_cpu
from facelens.api.errors import ERROR_RESPONSES
from facelens.api.heatmaps import HeatMap, overlay
from facelens.explain import Explanation, PairExplanation, gradcam, occlusion, pair
from facelens.explain.corrrise import DEFAULT_FILL, Fill
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT

router = APIRouter(prefix="/explain", tags=["explain"], responses=ERROR_RESPONSES)


class ExplainResult(BaseModel):
    explanation: Explanation
    overlay: HeatMap


class PairExplainResult(BaseModel):
    explanation: PairExplanation
    overlay_a: HeatMap
    overlay_b: HeatMap


def _overlay(explanation: Explanation, image: np.ndarray) -> HeatMap:
    values = explanation.crop_map
    assert explanation.matrix is not None
    return overlay(
        values, explanation.matrix, values.shape[0], image.shape[:2], signed=explanation.signed
    )


def explain_one(
    rgb: np.ndarray,
    method: str,
    target: str,
    class_name: str | None,
    face: int,
    faithfulness: bool,
    embedder: str,
    model: str | Path | None,
) -> ExplainResult:
    options = {
        "target": target,
        "class_name": class_name,
        "face": face,
        "faithfulness": faithfulness,
        "embedder": embedder,
        "model": model,
    }
    if method == "occlusion":
        result = occlusion(rgb, **options)
    else:
        result = gradcam(rgb, plus_plus=method == "gradcam++", **options)
    return ExplainResult(explanation=result, overlay=_overlay(result, rgb))


def explain_two(
    rgb_a: np.ndarray,
    rgb_b: np.ndarray,
    method: str,
    masks: int,
    operating_point: str,
    face_a: int,
    face_b: int,
    faithfulness: bool,
    fill: Fill,
    embedder: str,
) -> PairExplainResult:
    result = pair(
        rgb_a,
        rgb_b,
        method=method,
        masks=masks,
        operating_point=operating_point,
        face_a=face_a,
        face_b=face_b,
        faithfulness=faithfulness,
        fill=fill,
        embedder=embedder,
    )
    return PairExplainResult(
        explanation=result,
        overlay_a=_overlay(result.a, rgb_a),
        overlay_b=_overlay(result.b, rgb_b),
    )


@router.post("", openapi_extra=image_body("image"), summary="Why the model said what it said")
async def explain_face(
    request: Request,
    method: Literal["gradcam", "gradcam++", "occlusion"] = Query("gradcam"),
    target: Literal["expression", "age", "gender", "embedding"] = Query("expression"),
    class_name: str | None = Query(None, description="class (default: predicted; age: years)"),
    face: int = Query(0, ge=0, description="face index (0: the largest)"),
    faithfulness: bool = Query(False, description="add deletion/insertion checks (slower)"),
) -> ExplainResult:
    """Grad-CAM or occlusion map of one face for an attribute (the service's model for it,
    `facelens serve --model`) or the embedding of the service's recogniser."""
    (rgb,), _ = await request_images(request, "image")
    lens = lens_of(request)
    model = None if target == "embedding" else getattr(lens.attribute_models, target)
    return await run_cpu(
        request,
        explain_one,
        rgb,
        method,
        target,
        class_name,
        face,
        faithfulness,
        lens.embedder_name,
        model,
    )


@router.post(
    "/pair",
    openapi_extra=image_body("image_a", "image_b"),
    summary="Similar and dissimilar regions of a verification pair",
)
async def explain_pair(
    request: Request,
    method: Literal["gradient", "corrrise", "transplant"] = Query("gradient"),
    masks: int = Query(300, ge=50, le=2000, description="CorrRISE masks per image"),
    fill: Fill = Query(DEFAULT_FILL, description="CorrRISE fill"),
    operating_point: str = Query(DEFAULT_OPERATING_POINT),
    face_a: int = Query(0, ge=0),
    face_b: int = Query(0, ge=0),
    faithfulness: bool = Query(True, description="deletion/insertion checks"),
) -> PairExplainResult:
    """Green: regions that make the faces similar; red: regions that make them differ (as
    the service's recogniser sees them, with its threshold)."""
    (rgb_a, rgb_b), _ = await request_images(request, "image_a", "image_b")
    return await run_cpu(
        request,
        explain_two,
        rgb_a,
        rgb_b,
        method,
        masks,
        operating_point,
        face_a,
        face_b,
        faithfulness,
        fill,
        lens_of(request).embedder_name,
    )
