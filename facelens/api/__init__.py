"""The REST API (FastAPI): `create_app(Settings(...))`; run it with `facelens serve`."""

from facelens.api.app import create_app
from facelens.api.settings import Settings

__all__ = ["Settings", "create_app"]
