"""Speed of age + gender + expression for the faces of one photo, detection excluded.

The default models (heads on dlib, blended with the fine-tuned crop network) twice: given
the face's dlib embedding (what `analyze` hands over from quality's stability measure) and
computing it. The fused heads (age and gender "head") the same way: given the fused
embedding (what FaceLens(embedder="fused") computes anyway) and computing it. Expression
alone for each shipped choice: mini-Xception, "faceapi-fer" and their ensemble (the default).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from facelens.attributes import AttributeChoice, _shared, predict_attributes
from facelens.attributes.age_gender import FaceApiAgeGender
from facelens.attributes.expression import MiniXceptionEmotion
from facelens.attributes.expression_choice import expression_probabilities
from facelens.detection.detector import FaceDetector
from facelens.io import load_image
from facelens.recognition.registry import get_embedder

DEFAULT_IMAGE = Path("../shared/data/face_recognition/examples/obama-480p.jpg")


def _median_ms(work: object, repeat: int) -> float:
    assert callable(work)
    work()  # warm-up: lazy loading and first-call allocations are not the steady state
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return round(float(np.median(times)), 2)


def run_attributes_bench(image: Path = DEFAULT_IMAGE, repeat: int = 50) -> dict:
    """Median ms of `predict_attributes` on the largest face (and per network), all faces."""
    rgb = load_image(image)
    faces = FaceDetector.shared().detect(rgb)
    if not len(faces):
        raise ValueError(f"no face found in {image}")
    one = faces.points[:1]
    first = type(faces)(
        faces.boxes[:1], faces.scores[:1], one, faces.mesh[:1], faces.mesh_scores[:1]
    )
    age_gender, emotion = _shared(FaceApiAgeGender), _shared(MiniXceptionEmotion)
    heads = AttributeChoice(age="head", gender="head")
    fused = {"fused": get_embedder("fused").embed_faces(rgb, one, first.mesh)}
    dlib = {"dlib": get_embedder("dlib").embed_faces(rgb, one, first.mesh)}
    return {
        "image": str(image),
        "faces": len(faces),
        "one_face_ms": _median_ms(lambda: predict_attributes(rgb, first), repeat),
        "one_face_given_dlib_embedding_ms": _median_ms(
            lambda: predict_attributes(rgb, first, embeddings=dlib), repeat
        ),
        "age_gender_ms": _median_ms(lambda: age_gender.predict(rgb, one), repeat),
        "expression_ms": _median_ms(lambda: emotion.probabilities(rgb, one), repeat),
        **{
            f"expression_{spec}_ms": _median_ms(
                lambda spec=spec: expression_probabilities(rgb, one, spec), repeat
            )
            for spec in ("mini-xception", "faceapi-fer", "mini-xception+faceapi-fer")
        },
        "all_faces_ms": _median_ms(lambda: predict_attributes(rgb, faces), repeat),
        "heads_given_embedding_ms": _median_ms(
            lambda: predict_attributes(rgb, first, heads, fused), repeat
        ),
        "heads_embedding_included_ms": _median_ms(
            lambda: predict_attributes(rgb, first, heads), repeat
        ),
        "repeat": repeat,
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run_attributes_bench(*(Path(a) for a in sys.argv[1:2])), indent=2))
