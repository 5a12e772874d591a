"""Face gallery storage (1:N identification), independent of the face models.

`open_store` picks the backend from one string:

* ``milvus:<file>.db`` -> Milvus over milvus-lite (a local file)
* ``http://host:19530`` / ``https://...`` -> Milvus over a server
* any other path -> the default SQLite + FAISS store in that directory
"""

from __future__ import annotations

import os
from typing import Any

from facelens.errors import ErrorCode, FaceLensError
from facelens.gallery.record import EmbedderRecord
from facelens.gallery.store import GalleryStore, Hit, PersonSummary, Template

__all__ = [
    "Gallery",
    "GalleryStore",
    "Hit",
    "PersonSummary",
    "Template",
    "open_store",
    "recorded_embedder",
]


def _backend(path_or_uri: str | os.PathLike[str]) -> tuple[type, str]:
    if not isinstance(path_or_uri, str | os.PathLike):
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"a gallery is a folder path or a milvus: URI, got {type(path_or_uri).__name__}",
        )
    target = os.fspath(path_or_uri)
    if target.startswith(("milvus:", "http://", "https://")):
        # Imported here so the SQLite store works without pymilvus installed.
        from facelens.gallery.milvus_store import MilvusGalleryStore

        uri = target.removeprefix("milvus:")
        if not uri.startswith(("http://", "https://")):
            uri = os.path.expanduser(uri)  # a milvus-lite file
        return MilvusGalleryStore, uri
    from facelens.gallery.sqlite_store import SqliteGalleryStore

    return SqliteGalleryStore, os.path.expanduser(target)


def recorded_embedder(path_or_uri: str | os.PathLike[str]) -> EmbedderRecord | None:
    """Which embedder wrote the gallery there (galleries from before records: dlib); None
    when there is no gallery yet."""
    store, where = _backend(path_or_uri)
    return store.peek_embedder(where)


def open_store(path_or_uri: str | os.PathLike[str], dim: int = 128, **options: Any) -> GalleryStore:
    """Open (creating if needed) a gallery; `options` go to the backend's constructor.
    `embedder=EmbedderRecord(...)` (record.py): a new gallery records it, an existing one
    of another embedder is refused (`embedder_mismatch`); without it any record is accepted,
    and a new gallery records what one without a record holds (`record.unrecorded`)."""
    store, where = _backend(path_or_uri)
    return store(where, dim, **options)


def __getattr__(name: str) -> Any:
    # Gallery pulls in the face models; the storage layer stays importable without them.
    if name == "Gallery":
        from facelens.gallery.gallery import Gallery

        return Gallery
    raise AttributeError(name)
