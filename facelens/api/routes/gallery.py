"""Gallery (1:N): enrol a person from a photo, search with a photo, list and remove people.

Photos are never stored: the gallery keeps the embedding, box and quality of each face.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from facelens.api.deps import image_body, request_images, run_cpu
from facelens.api.errors import ERROR_RESPONSES, ApiError
from facelens.api.logs import log_fields, note_faces
from facelens.errors import ErrorCode, FaceLensError
from facelens.gallery.gallery import Gallery
from facelens.gallery.store import Fuse
from facelens.recognition.open_set import DEFAULT_OPEN_SET_POINT
from facelens.types import Enrollment, Identification, Person

router = APIRouter(prefix="/gallery", tags=["gallery"], responses=ERROR_RESPONSES)
MAX_NAME = 200


class Removed(BaseModel):
    person: str
    removed: int


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
async def enrol(
    request: Request, name: str | None = Query(None, max_length=MAX_NAME)
) -> Enrollment:
    """Adds the largest face as a template of `name`. The same photo twice is a no-op
    (`duplicate`); a face refused for quality is a 422 `retake`, nothing is stored."""
    gallery = gallery_of(request)
    (rgb,), fields = await request_images(request, "image")
    person = (name or fields.get("name") or "").strip()
    if not person or len(person) > MAX_NAME:
        raise ApiError(400, "bad_argument", f"give a name of 1 to {MAX_NAME} characters")
    result = await run_cpu(request, gallery.enroll, person, [rgb])
    item = result.images[0]
    if item.quality is not None:
        log_fields(request)["quality"] = [round(item.quality.score, 3)]
    if item.status == "no_face":
        raise FaceLensError(ErrorCode.NO_FACE, "no face was found in the image")
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


@router.delete(
    "/people/{name}", name="gallery_remove", summary="Remove a person and all their templates"
)
async def remove(request: Request, name: str = Path(max_length=MAX_NAME)) -> Removed:
    gallery = gallery_of(request)

    def remove_known() -> int:
        if name not in {p.name for p in gallery.people()}:
            raise ApiError(404, "not_found", f"no person named {name!r} in the gallery")
        return gallery.remove(name)

    return Removed(person=name, removed=await run_cpu(request, remove_known))
