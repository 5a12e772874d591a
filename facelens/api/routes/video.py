"""POST /v1/video: the faces of an uploaded clip, tracked, with a summary per track."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Query, Request

from facelens.api.clips import UPLOAD, clip_on_disk, read_clip
from facelens.api.deps import image_body, lens_of, run_cpu, settings_of
from facelens.api.errors import ERROR_RESPONSES
from facelens.detection.detector import DETECTORS
from facelens.errors import ErrorCode, FaceLensError
from facelens.lens import FaceLens
from facelens.types import VideoResult

if TYPE_CHECKING:
    from facelens.gallery.gallery import Gallery

router = APIRouter(tags=["video"], responses=ERROR_RESPONSES)


@router.post(
    "/video",
    openapi_extra=image_body("video"),
    summary="Faces of an uploaded clip, tracked across frames",
)
async def video(
    request: Request,
    every: int = Query(1, ge=1, le=300, description="analyse every N-th frame"),
    max_frames: int | None = Query(None, ge=1, description="read at most this many frames"),
    detector: str | None = Query(
        None, description=f"{' or '.join(DETECTORS)}; default: the server's (`serve --detector`)"
    ),
    identify: bool = Query(False, description="name each track from the server's gallery"),
) -> VideoResult:
    """Every analysed frame's faces with their track ids, and one summary per track (best
    frame, quality, attributes, identity). The clip is held to the upload size and to the
    server's per-clip frames and seconds (413 `too_large`); an unreadable or corrupt clip
    is 415 `unreadable_video` or 400 `truncated_video`."""
    if detector is not None and detector not in DETECTORS:
        raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"detector must be one of {DETECTORS}")
    settings = settings_of(request)
    data = await read_clip(request)
    served = lens_of(request)
    # the served lens's choices (`serve --detector/--embedder/--model`), this clip's budget
    lens = FaceLens(
        flip=served.flip,
        budget=settings.budget,
        embedder=served.embedder_name,
        detector=detector or served.detector_name,
        attribute_models=served.attribute_models,
    )
    gallery = getattr(request.app.state, "gallery", None) if identify else None
    if identify and gallery is None:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, "identify needs a gallery: start the server with --gallery"
        )
    return await run_cpu(request, _analyse, lens, data, every, max_frames, gallery)


def _analyse(
    lens: FaceLens, data: bytes, every: int, max_frames: int | None, gallery: Gallery | None
) -> VideoResult:
    with clip_on_disk(data) as path:
        analysis = lens.video(
            path, every=every, max_frames=max_frames, gallery=gallery, name=UPLOAD
        )
        frames = list(analysis)
        return VideoResult(summary=analysis.summary(), frames=frames)
