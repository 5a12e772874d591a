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
        _aggregate_attributes(track, views, ranked[0])
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


def _aggregate_attributes(track: Track, views: list[View], best: int) -> None:
    """Median age, mean gender probability and mean expression over the views; the best
    view's own values on `track.best`."""
    from facelens.attributes.age import to_age
    from facelens.attributes.choice import DEFAULT_CHOICE, load_crop
    from facelens.attributes.expression import to_expression
    from facelens.attributes.expression_choice import expression_probabilities
    from facelens.attributes.gender import to_gender

    # the default models, both crop networks (one network when they are the same)
    age_net, gender_net = load_crop(DEFAULT_CHOICE.age), load_crop(DEFAULT_CHOICE.gender)
    ages, female, emotions = [], [], []
    for view in views:
        age, woman = age_net.predict(view.crop, view.face.points)
        if gender_net is not age_net:
            woman = gender_net.predict(view.crop, view.face.points)[1]
        ages.append(float(age[0]))
        female.append(float(woman[0]))
        emotions.append(expression_probabilities(view.crop, view.face.points)[0])
    table = age_net.residual_quantiles
    track.age = to_age(float(np.median(ages)), table)
    track.gender = to_gender(float(np.mean(female)))
    track.expression = to_expression(np.mean(emotions, axis=0))
    track.best.age = to_age(ages[best], table)
    track.best.gender = to_gender(female[best])
    track.best.expression = to_expression(emotions[best])
