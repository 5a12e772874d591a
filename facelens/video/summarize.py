"""A finished track → its summary: best view by quality, attributes over the best views,
identity from the gallery. Runs once per track, on at most candidates.KEEP small crops."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from facelens.types import Box, Face, Landmarks, Quality, Track
from facelens.video.candidates import View, Views
from facelens.video.identity import SEARCHED_VIEWS, identify
from facelens.video.tracker import TrackState

if TYPE_CHECKING:
    from facelens.gallery.gallery import Gallery
    from facelens.lens import FaceLens


def summarize(
    state: TrackState,
    lens: FaceLens,
    quality: bool = True,
    attributes: bool = True,
    gallery: Gallery | None = None,
) -> Track:
    views = state.payload.items if isinstance(state.payload, Views) else []
    qualities = _qualities(views, lens) if quality else [None] * len(views)
    # by quality where measured, else by the cheap view score
    merit = [q.score if q is not None else v.score for q, v in zip(qualities, views, strict=True)]
    ranked = sorted(range(len(views)), key=lambda i: -merit[i])
    best = views[ranked[0]]
    face = _face(best, qualities[ranked[0]])
    track = Track(
        track_id=state.track_id,
        first_frame=state.first_frame,
        last_frame=state.last_frame,
        first_time=state.first_time,
        last_time=state.last_time,
        detections=state.detections,
        end=state.end,  # type: ignore[arg-type]
        best_frame=best.frame,
        best=face,
    )
    if attributes:
        _aggregate_attributes(track, views, ranked[0], lens, qualities)
    if gallery is not None:
        refused = {i for i, q in enumerate(qualities) if q is not None and q.verdict == "retake"}
        usable = [i for i in ranked if i not in refused]
        if usable:
            chosen = [_embedding(views[i], lens) for i in usable[:SEARCHED_VIEWS]]
            track.identity, track.matches, track.identity_threshold = identify(gallery, chosen)
    return track


def _qualities(views: list[View], lens: FaceLens) -> list[Quality | None]:
    from facelens.quality import assess_quality

    return [assess_quality(v.crop, v.face, lens.quality_embedder)[0] for v in views]


def _embedding(view: View, lens: FaceLens) -> np.ndarray:
    """The view's embedding: computed here, once per track, for its best views only."""
    return lens.embed_found(view.crop, view.face)[0]


def _face(view: View, quality: Quality | None) -> Face:
    found = view.face
    return Face(
        index=0,
        box=Box.from_array(found.boxes[0] + np.tile(view.offset, 2)),
        detection_score=round(float(found.scores[0]), 4),
        landmarks=Landmarks.from_array(found.points[0] + view.offset),
        quality=quality,
    )


def _aggregate_attributes(
    track: Track,
    views: list[View],
    best: int,
    lens: FaceLens,
    qualities: list[Quality | None],
) -> None:
    """Median age, mean gender probability and mean expression over the views; the best
    view's own values on `track.best`. The lens's attribute models; a head on dlib reuses
    the vector the view's quality measure computed."""
    from facelens.attributes import raw_attributes
    from facelens.attributes.age import to_age
    from facelens.attributes.expression import to_expression
    from facelens.attributes.gender import to_gender

    ages, female, emotions = [], [], []
    for view, quality in zip(views, qualities, strict=True):
        known = lens.reusable_vectors([quality]) if quality is not None else {}
        raw = raw_attributes(view.crop, view.face, lens.attribute_models, known, lens.flip)
        ages.append(float(raw.years[0]))
        female.append(float(raw.female[0]))
        emotions.append(raw.emotions[0])
    table = raw.age_table
    track.age = to_age(float(np.median(ages)), table)
    track.gender = to_gender(float(np.mean(female)))
    track.expression = to_expression(np.mean(emotions, axis=0))
    track.best.age = to_age(ages[best], table)
    track.best.gender = to_gender(female[best])
    track.best.expression = to_expression(emotions[best])
