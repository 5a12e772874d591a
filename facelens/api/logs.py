"""Structured logs: one JSON line per request on logger `facelens.api`.

Routes add facts (image size, faces, quality) to `log_fields(request)`; the middleware adds
timing and outcome and writes the line. Never image bytes or embeddings.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("facelens.api")
SCOPE_KEY = "facelens.log"
QUIET_PREFIXES = ("/static/", "/favicon")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
        }
        line.update(getattr(record, "fields", None) or {"message": record.getMessage()})
        return json.dumps(line, separators=(",", ":"), default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr (journald / supervisord capture them)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def log_fields(request: Request) -> dict[str, Any]:
    """The mutable facts of this request's log line."""
    return request.scope.setdefault(SCOPE_KEY, {})


def note_image(request: Request, nbytes: int, width: int, height: int) -> None:
    log_fields(request).setdefault("images", []).append(
        {"bytes": nbytes, "width": width, "height": height}
    )


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(QUIET_PREFIXES):
            await self.app(scope, receive, send)
            return
        fields = scope.setdefault(SCOPE_KEY, {})
        start, status = time.perf_counter(), 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except Exception:
            fields["outcome"] = "internal"  # answered 500 by the outermost handler
            raise
        finally:
            line = {
                "operation": fields.pop("operation", None) or _operation(scope),
                "method": scope.get("method"),
                "status": status,
                "outcome": fields.pop("outcome", "ok" if status < 400 else "error"),
                "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                **fields,
            }
            logger.info("request", extra={"fields": line})


def _operation(scope: Scope) -> str:
    """The route's name (detect, verify, ...), else the path."""
    route = scope.get("route")
    return getattr(route, "name", None) or scope.get("path", "")


def note_faces(request: Request, faces: list[Any]) -> None:
    """Face count and quality scores (no embeddings) for the log line."""
    fields = log_fields(request)
    fields["faces"] = fields.get("faces", 0) + len(faces)
    scores = [f.quality.score for f in faces if getattr(f, "quality", None) is not None]
    if scores:
        fields.setdefault("quality", []).extend(round(s, 3) for s in scores)
