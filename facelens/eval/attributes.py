"""Age and gender on UTKFace, expression on FER2013, through `predict_attributes`.

Both sets are tight face crops (UTKFace 200×200, FER2013 48×48 grey). Every image counts:
when the detector finds no face, the image is analysed with the mean landmarks and mesh of
the faces it did find in that set (eval.face_sample), and counted in `undetected`.
FER2013 frames are upscaled 4× and padded before detection (BlazeFace misses many faces
that fill a 48 px frame: 89% found as is, 95.5% so, on 200 faces).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelens.attributes import AttributeChoice, predict_attributes
from facelens.attributes.age import bucket
from facelens.attributes.choice import DEFAULT_CHOICE
from facelens.attributes.expression import LABELS
from facelens.detection.detector import DEFAULT_DETECTOR
from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.face_sample import central_faces, fer_canvas, same, sample
from facelens.io import load_image

RACES = ("White", "Black", "Asian", "Indian", "Others")  # UTKFace race codes 0-4
MAX_AGE_YEARS = 120  # UTKFace's oldest face is 116
INTERVAL_EDGES = (4.0, 10.0, 18.0, 25.0, 32.0, 40.0, 50.0, 60.0, float("inf"))
Tick = Callable[[], None] | None


@dataclass
class Predicted:
    """Per-image predictions and whether the detector found the face."""

    years: np.ndarray
    female: np.ndarray
    expression: np.ndarray  # index into LABELS
    expression_confidence: np.ndarray  # probability of the predicted expression
    detected: np.ndarray


def predict_files(
    files: list[Path],
    prepare: Callable[[np.ndarray], np.ndarray],
    tick: Tick = None,
    detector: str = DEFAULT_DETECTOR,
    models: AttributeChoice = DEFAULT_CHOICE,
) -> Predicted:
    faces, detected = central_faces(files, prepare, detector)
    years, female, expression, confidence = [], [], [], []
    for path, face in zip(files, faces, strict=True):
        rgb = prepare(load_image(path))
        age, gender, emotion = predict_attributes(rgb, face, models)[0]
        years.append(age.years)
        female.append(gender.probability if gender.label == "female" else 1 - gender.probability)
        expression.append(LABELS.index(emotion.label))
        confidence.append(emotion.probability)
        if tick:
            tick()
    return Predicted(
        np.array(years), np.array(female), np.array(expression), np.array(confidence), detected
    )


def calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |accuracy − mean confidence| per equal-width confidence
    bin, weighted by the bin's share of the predictions."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap = abs(float(correct[members].mean()) - float(confidence[members].mean()))
            error += members.mean() * gap
    return float(error)


def utkface_labels(files: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(age, female, race) from AGE_GENDER_RACE_*.jpg (gender 0 = male, 1 = female; race
    0-4, RACES); a name outside that convention is `bad_argument` naming file and field."""
    labels = [utkface_label(path) for path in files]
    return (
        np.array([age for age, _, _ in labels], int),
        np.array([female for _, female, _ in labels], bool),
        np.array([race for _, _, race in labels], int),
    )


def utkface_label(path: Path) -> tuple[int, bool, int]:
    """(age, female, race) of one UTKFace-style file name."""
    parts = Path(path).name.split("_")
    if len(parts) < 4:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"{Path(path).name} is not named AGE_GENDER_RACE_*.jpg"
        )
    age = _label_code(path, "age", parts[0], MAX_AGE_YEARS)
    gender = _label_code(path, "gender", parts[1], 1)
    race = _label_code(path, "race", parts[2], len(RACES) - 1)
    return age, gender == 1, race


def _label_code(path: Path, field: str, text: str, largest: int) -> int:
    # ASCII digits only: int() would also take " 7", "+7", "-5" or "٣", none of them a label
    if not (text.isascii() and text.isdigit()) or len(text) > 4 or int(text) > largest:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"{Path(path).name}: the {field} must be a whole number 0-{largest} "
            f"(AGE_GENDER_RACE_*.jpg), got {text!r}",
        )
    return int(text)


def age_report(age: np.ndarray, years: np.ndarray) -> dict:
    from facelens.attributes.age import interval

    error = np.abs(years - age)
    decade = np.minimum(age // 10, 8)
    intervals = np.array([interval(float(y)) for y in years])
    residual = age - years
    upper = np.searchsorted(INTERVAL_EDGES, years, side="right")
    return {
        "age_mae": float(error.mean()),
        "age_bias": float((years - age).mean()),
        "age_mae_by_decade": {
            (f"{d * 10}-{d * 10 + 9}" if d < 8 else "80+"): {
                "faces": int((decade == d).sum()),
                "mae": float(error[decade == d].mean()),
            }
            for d in range(9)
            if (decade == d).any()
        },
        "age_interval_coverage": float(
            np.mean((age >= intervals[:, 0]) & (age <= intervals[:, 1]))
        ),
        "age_bucket_accuracy": float(
            np.mean([bucket(float(a)) == bucket(float(y)) for a, y in zip(age, years, strict=True)])
        ),
        # [from, below (None: no limit), 5% and 95% quantiles of true − predicted, faces] per
        # predicted-age range: the table behind the 90% interval (age.RESIDUAL_QUANTILES)
        "age_residual_quantiles": [
            [
                INTERVAL_EDGES[i - 1] if i else 0.0,
                edge if np.isfinite(edge) else None,
                *np.quantile(residual[upper == i], [0.05, 0.95]).round(1).tolist(),
                n,
            ]
            for i, edge in enumerate(INTERVAL_EDGES)
            if (n := int((upper == i).sum())) > 0
        ],
    }


def gender_report(female: np.ndarray, predicted: np.ndarray, race: np.ndarray, age: np.ndarray):
    correct = (predicted >= 0.5) == female
    return {
        "gender_accuracy": float(correct.mean()),
        "gender_calibration_error": calibration_error(
            np.maximum(predicted, 1 - predicted), correct
        ),
        "gender_accuracy_by_race": {
            name: float(correct[race == code].mean())
            for code, name in enumerate(RACES)
            if (race == code).any()
        },
        "gender_accuracy_by_age": {
            name: float(correct[mask].mean())
            for name, mask in (("0-12", age <= 12), ("13+", age > 12))
            if mask.any()
        },
    }


def expression_report(truth: np.ndarray, predicted: np.ndarray, confidence: np.ndarray) -> dict:
    confusion = np.zeros((len(LABELS), len(LABELS)), int)
    np.add.at(confusion, (truth, predicted), 1)
    totals = confusion.sum(axis=1)
    return {
        "expression_accuracy": float(np.mean(truth == predicted)),
        "expression_calibration_error": calibration_error(confidence, truth == predicted),
        "expression_recall": {
            label: float(confusion[i, i] / totals[i]) for i, label in enumerate(LABELS) if totals[i]
        },
        "expression_labels": list(LABELS),
        "expression_confusion": confusion.tolist(),  # rows: true class, columns: predicted
    }


def evaluate_attributes(
    utkface_dir: Path,
    fer_dir: Path,
    limit: int | None = None,
    tick: Tick = None,
    detector: str = DEFAULT_DETECTOR,
    models: AttributeChoice = DEFAULT_CHOICE,
) -> dict:
    """Age/gender figures on UTKFace, expression figures on FER2013 (`limit` images each),
    with the attribute models `models` (attributes.choice)."""
    utk_files = sample(sorted(Path(utkface_dir).glob("*.jpg")), limit)
    fer_files = sample(sorted(Path(fer_dir).glob("*/*.jpg")), limit)
    fer_files = [f for f in fer_files if f.parent.name in LABELS]
    if not utk_files or not fer_files:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"no images found in {utkface_dir} or {fer_dir}"
        )
    age, female, race = utkface_labels(utk_files)
    utk = predict_files(utk_files, same, tick, detector, models)
    fer = predict_files(fer_files, fer_canvas, tick, detector, models)
    truth = np.array([LABELS.index(f.parent.name) for f in fer_files])
    report: dict = {
        "models": {kind: str(spec) for kind, spec in models.__dict__.items()},
        "utkface_images": len(utk_files),
        "fer2013_images": len(fer_files),
        "undetected": int((~utk.detected).sum() + (~fer.detected).sum()),
        "undetected_utkface": int((~utk.detected).sum()),
        "undetected_fer2013": int((~fer.detected).sum()),
    }
    report.update(age_report(age, utk.years))
    report.update(gender_report(female, utk.female, race, age))
    report.update(expression_report(truth, fer.expression, fer.expression_confidence))
    report["expression_accuracy_detected"] = float(np.mean((truth == fer.expression)[fer.detected]))
    return report
