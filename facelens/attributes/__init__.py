"""Age, gender and expression of every face, each model batched over all faces.

age and gender: faceapi-age-gender.onnx (one network), dlib chip 112×112 padding 0.2 +
mirror, RGB NCHW (x − mean)/255; or an embedding head (attributes.embedding_head) on the
recognition vector, which FaceLens computes anyway, possibly blended with face-api's
outputs. Which: attributes.choice.
expression: by default emotion.onnx (mini-Xception: FER2013 framing 64×64, 2 zooms + mirrors,
grey NHWC −1..1) averaged with faceapi-expression-fer.onnx (a head trained here on face-api's
expression features, 48×48 grey + mirror); either alone, a network made by `facelens train
expression` (attributes.expression_net), or an ensemble of these (attributes.expression_choice).

Chosen by measurement on UTKFace / FER2013 samples: see `facelens eval attributes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np

from facelens.attributes.age import ResidualTable, to_age
from facelens.attributes.choice import (
    DEFAULT_CHOICE,
    AttributeChoice,
    ModelSpec,
    is_crop,
    load_crop,
    load_head,
)
from facelens.attributes.expression import to_expression
from facelens.attributes.expression_choice import expression_probabilities
from facelens.attributes.gender import to_gender
from facelens.detection.detector import FoundFaces
from facelens.models.onnx_model import OnnxModel, shared
from facelens.types import Age, Expression, Gender

__all__ = ["AttributeChoice", "RawAttributes", "predict_attributes", "raw_attributes"]

Model = TypeVar("Model", bound=OnnxModel)


def _shared(model_class: type[Model]) -> Model:
    return cast(Model, shared(model_class))


class _Embeddings:
    """The faces' recognition vectors per embedder, computed at most once per call."""

    def __init__(self, rgb: np.ndarray, faces: FoundFaces, known: Mapping, flip: bool) -> None:
        self.rgb, self.faces, self.vectors, self.flip = rgb, faces, dict(known), flip

    def __getitem__(self, embedder: str) -> np.ndarray:
        if embedder not in self.vectors:
            from facelens.recognition.registry import get_embedder

            faces = self.faces
            self.vectors[embedder] = get_embedder(embedder).embed_faces(
                self.rgb, faces.points, faces.mesh, self.flip
            )
        return self.vectors[embedder]


@dataclass
class RawAttributes:
    """Per face: years, probability of "female", the expression probabilities; and the age
    model's residual table (for the 90% interval)."""

    years: np.ndarray
    female: np.ndarray
    emotions: np.ndarray
    age_table: ResidualTable


def raw_attributes(
    rgb: np.ndarray,
    faces: FoundFaces,
    models: AttributeChoice = DEFAULT_CHOICE,
    embeddings: Mapping[str, np.ndarray] | None = None,
    flip: bool = False,
) -> RawAttributes:
    """The models' numbers for every face of one RGB image (see `predict_attributes`)."""
    points = faces.points
    vectors = _Embeddings(rgb, faces, embeddings or {}, flip)
    crops: dict[ModelSpec, tuple[np.ndarray, np.ndarray]] = {}  # each crop network runs once

    def crop(spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
        if spec not in crops:
            crops[spec] = load_crop(spec).predict(rgb, points)
        return crops[spec]

    if is_crop(models.age):
        ages, table = crop(models.age)[0], load_crop(models.age).residual_quantiles
    else:
        head = load_head("age", models.age)
        known = crop(head.crop_network)[0] if head.crop_weight > 0 else None
        ages, table = head.predict_blended(vectors[head.embedder], known), head.residual_quantiles
    if is_crop(models.gender):
        female = crop(models.gender)[1]
    else:
        head = load_head("gender", models.gender)
        known = crop(head.crop_network)[1] if head.crop_weight > 0 else None
        female = head.predict_blended(vectors[head.embedder], known)
    emotions = expression_probabilities(rgb, points, models.expression)
    return RawAttributes(ages, female, emotions, table)


def predict_attributes(
    rgb: np.ndarray,
    faces: FoundFaces,
    models: AttributeChoice = DEFAULT_CHOICE,
    embeddings: Mapping[str, np.ndarray] | None = None,
    flip: bool = False,
) -> list[tuple[Age, Gender, Expression]]:
    """(age, gender, expression) for every face of one RGB image, in the faces' order.

    models: which model per attribute (attributes.choice). embeddings: vectors already
    computed for these faces, by embedder name (a head reuses them: FaceLens passes the dlib
    vectors quality's stability measure computed); flip: how a head's missing vectors are
    computed (as FaceLens(flip=...) embeds)."""
    raw = raw_attributes(rgb, faces, models, embeddings, flip)
    return [
        (to_age(float(a), raw.age_table), to_gender(float(f)), to_expression(e))
        for a, f, e in zip(raw.years, raw.female, raw.emotions, strict=True)
    ]
