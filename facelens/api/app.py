"""The FastAPI application: `create_app(settings)` builds one; `facelens serve` runs it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import numpy as np
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from facelens.api.deps import has_feature, require_api_key
from facelens.api.errors import install_error_handlers
from facelens.api.limits import BodyLimitMiddleware
from facelens.api.logs import RequestLogMiddleware
from facelens.api.memory import ReturnMemoryMiddleware
from facelens.api.routes import (
    faces,
    gallery,
    health,
    info,
    liveness,
    quality,
    verify,
    video,
    web,
)
from facelens.api.settings import Settings
from facelens.detection.detector import FoundFaces
from facelens.lens import FaceLens

if TYPE_CHECKING:
    from facelens.gallery.gallery import Gallery

log = logging.getLogger("facelens.api")


def warm_models(lens: FaceLens) -> None:
    """Load every network now, so the first request is as fast as the rest."""
    blank = np.full((256, 256, 3), 128, np.uint8)
    lens.detect(blank)
    lens.embedder.warm_up()
    # The optional heads run once on a made-up face; if that fails they load on first use.
    points = np.array([[[150, 110], [106, 110], [128, 140], [146, 170], [110, 170]]], np.float32)
    face = FoundFaces(
        boxes=np.array([[78, 60, 178, 190]], np.float32),
        scores=np.ones(1, np.float32),
        points=points,
        mesh=_made_up_mesh(),
        mesh_scores=np.ones(1, np.float32),
    )
    for name, warm in (("attributes", _warm_attributes), ("quality", _warm_quality)):
        if has_feature(name):
            try:
                warm(lens, blank, face)
            except Exception as error:
                log.warning("warm-up of %s failed: %r", name, error)


def _made_up_mesh() -> np.ndarray:
    """468 points spread over the made-up face's box (a fit on them must not degenerate)."""
    xy = np.random.default_rng(0).uniform([88, 70], [168, 180], (1, 468, 2))
    return np.concatenate([xy, np.zeros((1, 468, 1))], axis=2).astype(np.float32)


def _warm_attributes(lens: FaceLens, rgb: np.ndarray, face: FoundFaces) -> None:
    from facelens.attributes import predict_attributes

    predict_attributes(rgb, face)


def _warm_quality(lens: FaceLens, rgb: np.ndarray, face: FoundFaces) -> None:
    from facelens.quality import assess_quality

    assess_quality(rgb, face, lens.quality_embedder)


def open_gallery(settings: Settings, lens: FaceLens) -> Gallery | None:
    if settings.gallery_dir is None:
        return None
    from facelens.gallery.gallery import Gallery, embedder_for

    settings.gallery_dir.mkdir(parents=True, exist_ok=True)
    # the gallery keeps the embedder its templates were made with (README, Gallery migration)
    embedder, flip = embedder_for(settings.gallery_dir)
    if (embedder, flip) != (lens.embedder_name, lens.flip):
        lens = FaceLens(flip, lens.budget, embedder, lens.detector_name, lens.attribute_models)
    return Gallery(settings.gallery_dir, lens=lens)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = app.state
    state.ready, state.warm_error = not state.settings.warm_up, None

    async def warm() -> None:
        try:
            await anyio.to_thread.run_sync(warm_models, state.lens)
            state.ready = True
            log.info("ready", extra={"fields": {"operation": "startup", "outcome": "ready"}})
        except Exception as error:  # a broken install: /readyz says why, /healthz still answers
            state.warm_error = repr(error)
            log.exception("warm-up failed")

    # In the background: /healthz answers at once, /readyz turns 200 once the models are in.
    task = asyncio.create_task(warm()) if state.settings.warm_up else None
    try:
        yield
    finally:
        if task is not None and not task.done():
            task.cancel()
        if state.gallery is not None:
            state.gallery.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="facelens",
        version="0.1.0",
        summary="Explainable face analysis: detection, recognition, quality, attributes, why.",
        description=(
            "Images are sent as multipart files (`image`; `image_a`/`image_b` for pairs) or "
            "as base64 strings in JSON. Errors are `{error: {code, message}}` with a 4xx "
            "status. Send `X-API-Key` when the server has a key."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.lens = FaceLens(
        embedder=settings.embedder,
        detector=settings.detector,
        attribute_models=settings.attribute_models or None,
    )
    app.state.limiter = None  # created on first use, inside the event loop
    install_error_handlers(app)

    app.include_router(health.router)
    guarded = [Depends(require_api_key)]
    for module in (info, faces, verify, video, liveness):
        app.include_router(module.router, prefix="/v1", dependencies=guarded)
    # Optional parts: their routes exist when the part is installed.
    if has_feature("quality"):
        app.include_router(quality.router, prefix="/v1", dependencies=guarded)
    if has_feature("explain"):
        from facelens.api.routes import explain, reconstruct  # imports torch

        app.include_router(explain.router, prefix="/v1", dependencies=guarded)
        app.include_router(reconstruct.router, prefix="/v1", dependencies=guarded)
    app.include_router(gallery.router, prefix="/v1", dependencies=guarded)
    app.state.gallery = open_gallery(settings, app.state.lens)
    web.mount(app)

    # Last added runs first: CORS, then the log line, then the body limit, then memory.
    app.add_middleware(ReturnMemoryMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    return app
