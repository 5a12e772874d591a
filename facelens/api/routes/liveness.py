"""Liveness: POST /v1/liveness for a clip; /v1/liveness/sessions for a live camera, one
frame per request (the web page's Live tab)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from facelens.api.clips import UPLOAD, clip_on_disk, read_clip
from facelens.api.deps import image_body, lens_of, request_images, run_cpu, settings_of
from facelens.api.errors import ERROR_RESPONSES, ERROR_SCHEMA
from facelens.api.sessions import Sessions
from facelens.lens import FaceLens
from facelens.liveness.challenge import STEP_SECONDS, check_actions
from facelens.liveness.session import LiveCheck
from facelens.types import Liveness, LivenessSession

router = APIRouter(tags=["liveness"], responses=ERROR_RESPONSES)
CHALLENGE = "comma-separated blink, left, right in the order asked (e.g. blink,left,right)"
NO_SESSION = {
    404: {
        "description": "no such session: it ended or expired (`not_found`)",
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }
}


def _actions(challenge: str | None) -> list[str] | None:
    return check_actions(challenge) if challenge else None


def _sessions(request: Request) -> Sessions:
    state = request.app.state
    if getattr(state, "liveness_sessions", None) is None:
        state.liveness_sessions = Sessions()
    return state.liveness_sessions


@router.post("/liveness", openapi_extra=image_body("video"), summary="Liveness of a clip")
async def liveness(
    request: Request,
    challenge: str | None = Query(None, description=CHALLENGE),
    every: int = Query(1, ge=1, le=10, description="analyse every N-th frame"),
) -> Liveness:
    """Is the clip's most prominent face a live person? Passive cues (blinks, non-rigid
    motion, frozen frames) and, with `challenge`, the answers to it (5 s a step from the
    clip's start). Bad clips fail as on /v1/video."""
    actions = _actions(challenge)
    data = await read_clip(request)
    served = lens_of(request)
    lens = FaceLens(budget=settings_of(request).budget, detector=served.detector_name)
    return await run_cpu(request, _check, lens, data, actions, every)


def _check(lens: FaceLens, data: bytes, actions: list[str] | None, every: int) -> Liveness:
    with clip_on_disk(data) as path:
        return lens.liveness(path, actions, every, name=UPLOAD)


@router.post("/liveness/sessions", summary="Start a live liveness check")
async def start_session(
    request: Request,
    challenge: str | None = Query(None, description=f"{CHALLENGE}; default: random order"),
    step_seconds: float = Query(STEP_SECONDS, ge=2.0, le=15.0, description="time per step"),
) -> LivenessSession:
    """A session with a random challenge (or the one given). Send camera frames to
    /v1/liveness/sessions/{session_id}/frames, a few a second, until `done`."""
    check = LiveCheck(lens_of(request), _actions(challenge), step_seconds)
    _sessions(request).add(check)
    return check.state


@router.post(
    "/liveness/sessions/{session_id}/frames",
    openapi_extra=image_body("image"),
    summary="One camera frame of a live check",
    responses=NO_SESSION,
)
async def session_frame(request: Request, session_id: str) -> LivenessSession:
    """This frame's faces (with track ids), the prompt to show now, the verdict so far."""
    check, lock = _sessions(request).get(session_id)
    (rgb,), _ = await request_images(request, "image")

    def add() -> LivenessSession:
        with lock:  # one frame of a session at a time, in order
            return check.add(rgb)

    return await run_cpu(request, add)


@router.delete("/liveness/sessions/{session_id}", summary="End a live check", responses=NO_SESSION)
async def end_session(request: Request, session_id: str) -> dict[str, bool]:
    """Drops the session at once (`{"ended": true}`); an unknown, ended or expired session
    is a 404 `not_found`, as for its frames."""
    _sessions(request).remove(session_id)
    return {"ended": True}
