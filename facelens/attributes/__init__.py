"""Age, gender and expression of every face, each network batched over all faces.

age and gender: faceapi-age-gender.onnx (one network), dlib chip 112×112 padding 0.2 +
mirror, RGB NCHW (x − mean)/255.
expression: emotion.onnx, FER2013 framing 64×64, 3 zooms + mirrors, grey NHWC −1..1.

Chosen by measurement on UTKFace / FER2013 samples: see `facelens eval attributes`.
"""

from __future__ import annotations

from typing import TypeVar, cast

import numpy as np

from facelens.attributes.age import to_age
from facelens.attributes.age_gender import FaceApiAgeGender
from facelens.attributes.expression import MiniXceptionEmotion, to_expression
from facelens.attributes.gender import to_gender
from facelens.detection.detector import FoundFaces
from facelens.models.onnx_model import OnnxModel, shared
from facelens.types import Age, Expression, Gender

__all__ = ["predict_attributes"]

Model = TypeVar("Model", bound=OnnxModel)


def _shared(model_class: type[Model]) -> Model:
    return cast(Model, shared(model_class))


def predict_attributes(rgb: np.ndarray, faces: FoundFaces) -> list[tuple[Age, Gender, Expression]]:
    """(age, gender, expression) for every face of one RGB image, in the faces' order."""
    points = faces.points
    ages, female = _shared(FaceApiAgeGender).predict(rgb, points)
    emotions = _shared(MiniXceptionEmotion).probabilities(rgb, points)
    return [
        (to_age(float(a)), to_gender(float(f)), to_expression(e))
        for a, f, e in zip(ages, female, emotions, strict=True)
    ]
