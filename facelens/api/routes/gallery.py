"""Gallery (1:N): enrol a person from a photo, search with a photo, list, rename and remove.

Photos are never stored: the gallery keeps the embedding, box and quality of each face.
A name never travels in the URL path (where `/`, `.`, `..` and `%2F` are rewritten before
routing): remove takes `?name=`, rename a JSON body. Names follow facelens.gallery.names.
"""

from __future__ import annotations

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from facelens.api.deps import image_body, request_images, run_cpu
from facelens.api.errors import ERROR_RESPONSES, ERROR_SCHEMA, ApiError
from facelens.api.logs import log_fields, note_faces
from facelens.errors import ErrorCode, FaceLensError
from facelens.gallery.gallery import Gallery
from facelens.gallery.store import Fuse
from facelens.recognition.open_set import DEFAULT_OPEN_SET_POINT
from facelens.types import Enrollment, Identification, Person

RESPONSES = {
    **ERROR_RESPONSES,
    **{
        status: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
        for status, text in (
            (404, "no gallery on this server, or no such person (`not_found`)"),
            (409, "the new name belongs to another person (`name_taken`)"),
        )
    },
}
router = APIRouter(prefix="/gallery", tags=["gallery"], responses=RESPONSES)


class Removed(BaseModel):
    person: str
    removed: int


class Rename(BaseModel):
    name: str = Field(description="the person's name as listed (any case)")
    new_name: str = Field(description="the new name (a change of case only is allowed)")


def gallery_of(request: Request) -> Gallery:
    gallery = getattr(request.app.state, "gallery", None)
    if gallery is None:
        raise ApiError(404, "gallery_disabled", "no gallery: start the server with --gallery DIR")
    return gallery


@router.post(
    "/people",
    name="gallery_enrol",
    openapi_extra=image_body("image", text={"name": "the person's name (or ?name=)"}),
    summary="Enrol a person from a photo (its largest face)",
)
async def enrol(request: Request, name: str | None = Query(None)) -> Enrollment:
    """Adds the largest face as a template of `name`; a name differing from an enrolled one
    only in case adds to that person (`person` in the answer is the stored name). A name
    with control or invisible characters, empty, or over 128 characters is a 400 `bad_name`.
    The same photo twice is a no-op (`duplicate`); a face refused for quality is a 422
    `retake`; a photo already enrolled for another person a 409 `photo_taken`: nothing is
    stored."""
    gallery = gallery_of(request)
    (rgb,), fields = await request_images(request, "image")
    person = name or fields.get("name")
    if not person:
        raise ApiError(400, "bad_argument", "give the person's name: ?name= or a `name` field")
    result = await run_cpu(request, gallery.enroll, person, [rgb])
    item = result.images[0]
    if item.quality is not None:
        log_fields(request)["quality"] = [round(item.quality.score, 3)]
    if item.status == "no_face":
        raise FaceLensError(ErrorCode.NO_FACE, "no face was found in the image")
    if item.status == "other_person":
        raise FaceLensError(ErrorCode.PHOTO_TAKEN, item.reasons[0])
    if item.status == "refused":
        raise FaceLensError(
            ErrorCode.RETAKE, "the face was refused for quality: " + "; ".join(item.reasons)
        )
    return result


@router.post(
    "/search",
    name="gallery_search",
    openapi_extra=image_body("image"),
    summary="Who is this? (1:N)",
)
async def search(
    request: Request,
    k: int = Query(5, ge=1, le=100, description="people to return"),
    operating_point: str = Query(
        DEFAULT_OPEN_SET_POINT, description="fpir_1e-1/-2/-3 (scale with the gallery) or 1:1"
    ),
    fuse: Fuse = Query("max", description="a person's score: best template or the mean"),
) -> Identification:
    """The k most similar people; `identity` is null when nobody clears the threshold.
    `status` is `retake` (no search made) or `low` as in /v1/verify."""
    gallery = gallery_of(request)
    (rgb,), _ = await request_images(request, "image")
    result = await run_cpu(request, gallery.search, rgb, k, operating_point, fuse)
    note_faces(request, [result.face])
    return result


@router.get(
    "/people", name="gallery_people", summary="Everyone enrolled, with their number of templates"
)
async def people(request: Request) -> list[Person]:
    return await run_cpu(request, gallery_of(request).people)


@router.delete("/people", name="gallery_remove", summary="Remove a person and all their templates")
async def remove(
    request: Request, name: str = Query(description="the person's name as listed (any case)")
) -> Removed:
    """Any stored name works, `a/b`, `..` or one stored before names were checked."""
    removed = await run_cpu(request, gallery_of(request).remove, name)
    return Removed(person=name, removed=removed)


@router.delete(
    "/people/{name:path}",
    name="gallery_remove_by_path",
    summary="Remove a person named in the path (deprecated: use DELETE /people?name=)",
    deprecated=True,
)
async def remove_by_path(request: Request, name: str = Path()) -> Removed:
    """Kept for old clients. Clients resolve `.` and `..` segments before sending, so a name
    that is or contains one cannot be sent here; `?name=` takes any name."""
    return await remove(request, name)


@router.post("/people/rename", name="gallery_rename", summary="Rename a person")
async def rename(request: Request, body: Rename = Body()) -> Rename:
    """Renames `name` (any stored name) to `new_name`, checked like an enrolment name; the
    answer holds the stored new name. Another person's name, in any case, is a 409
    `name_taken`: people are never merged."""
    stored = await run_cpu(request, gallery_of(request).rename, body.name, body.new_name)
    return Rename(name=body.name, new_name=stored)
