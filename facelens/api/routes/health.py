"""Liveness and readiness: open to all (no API key), cheap, never touch the networks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The networks are loaded and requests are served at speed")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    if getattr(state, "warm_error", None):
        return JSONResponse({"ready": False, "error": state.warm_error}, status_code=503)
    ready = bool(getattr(state, "ready", False))
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)
