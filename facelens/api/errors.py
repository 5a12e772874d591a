"""FaceLensError → a 4xx JSON body {"error": {"code", "message"}}; never a 500 for bad input."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from facelens.errors import ErrorCode, FaceLensError

STATUS = {
    ErrorCode.EMPTY_INPUT: 400,
    ErrorCode.BAD_ARRAY: 400,
    ErrorCode.BAD_ARGUMENT: 400,
    ErrorCode.BAD_NAME: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NAME_TAKEN: 409,
    ErrorCode.EMBEDDER_MISMATCH: 409,
    ErrorCode.TRUNCATED_IMAGE: 400,
    ErrorCode.NOT_AN_IMAGE: 415,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.BAD_DIMENSIONS: 422,
    ErrorCode.NO_FACE: 422,
    ErrorCode.FACE_INDEX: 422,
    ErrorCode.RETAKE: 422,
    ErrorCode.UNREADABLE_VIDEO: 415,
    ErrorCode.TRUNCATED_VIDEO: 400,
    ErrorCode.SOURCE_LOST: 400,
    ErrorCode.BAD_GALLERY: 503,  # the server's own gallery, not the request, is at fault
    ErrorCode.BUSY: 503,
    ErrorCode.PHOTO_TAKEN: 409,
}
HTTP_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


class ApiError(Exception):
    """A request problem that only exists over HTTP (missing field, bad key, unknown person)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
}
ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for status, text in (
        (400, "bad input (empty, truncated, bad base64, missing field, bad argument)"),
        (401, "missing or wrong X-API-Key"),
        (413, "upload or image too large"),
        (415, "not an image in a supported format"),
        (422, "no face, face index out of range, face refused for quality, bad dimensions"),
    )
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})


def _answer(request: Request, status: int, code: str, message: str) -> JSONResponse:
    request.scope.setdefault("facelens.log", {})["outcome"] = code  # for the request's log line
    return error_response(status, code, message)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FaceLensError)
    async def facelens_error(request: Request, error: FaceLensError) -> JSONResponse:
        return _answer(request, STATUS.get(error.code, 400), error.code.value, error.message)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return _answer(request, error.status, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", []))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        return _answer(request, 422, "bad_request", message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(error.status_code, "bad_request")
        return _answer(request, error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        # A bug, not bad input: logged with its traceback, answered without details.
        logging.getLogger("facelens.api").exception("unhandled error", exc_info=error)
        return _answer(request, 500, "internal", "internal error")
