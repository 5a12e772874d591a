"""Who a track is: one gallery search per track, on the mean embedding of its best views."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from facelens.errors import ErrorCode, FaceLensError
from facelens.recognition.open_set import DEFAULT_OPEN_SET_POINT, open_set_threshold
from facelens.types import GalleryMatch

if TYPE_CHECKING:
    from facelens.gallery.gallery import Gallery
    from facelens.lens import FaceLens

SEARCHED_VIEWS = 3  # the best views by quality whose embeddings are averaged


def check_gallery(gallery: Gallery, lens: FaceLens) -> None:
    """The video's embeddings must be comparable with the gallery's templates."""
    if (gallery.lens.embedder_name, gallery.lens.flip) != (lens.embedder_name, lens.flip):
        raise FaceLensError(
            ErrorCode.EMBEDDER_MISMATCH,
            f"the gallery holds {gallery.lens.embedder_name} embeddings (flip="
            f"{gallery.lens.flip}); the video is analysed with {lens.embedder_name} "
            f"(flip={lens.flip})",
        )


def identify(
    gallery: Gallery, embeddings: list[np.ndarray], k: int = 5
) -> tuple[str | None, list[GalleryMatch], float]:
    """(identity or None, top-k matches, threshold) for the views' mean embedding."""
    mean = np.mean(embeddings, axis=0)
    query = (mean / np.linalg.norm(mean)).astype(np.float32)[None]
    store = gallery.store
    threshold = open_set_threshold(
        DEFAULT_OPEN_SET_POINT, store.searched(), gallery.lens.flip, gallery.lens.embedder_name
    )
    hits = store.search(query, k=k, fuse=gallery.fuse)[0]
    matches = [
        GalleryMatch(
            person=h.person, similarity=round(float(h.similarity), 6), template_id=h.template_id
        )
        for h in hits
    ]
    best = matches[0] if matches else None
    identity = best.person if best and best.similarity > threshold else None
    return identity, matches, threshold
