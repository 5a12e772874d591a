"""Age and gender on UTKFace, expression on FER2013, through `predict_attributes`.

Both sets are tight face crops (UTKFace 200×200, FER2013 48×48 grey). Every image counts:
when the detector finds no face, the image is analysed with the mean landmark layout of
the faces it did find in that set (the crops are centred), and counted in `undetected`.
FER2013 frames are upscaled 4× and padded before detection (BlazeFace misses many faces
that fill a 48 px frame: 89% found as is, 95.5% so, on 200 faces).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facelens.attributes import predict_attributes
from facelens.attributes.age import bucket
from facelens.attributes.expression import LABELS
from facelens.detection.detector import DEFAULT_DETECTOR, FaceDetector, FoundFaces
from facelens.io import load_image

RACES = ("White", "Black", "Asian", "Indian", "Others")  # UTKFace race codes 0-4
INTERVAL_EDGES = (4.0, 10.0, 18.0, 25.0, 32.0, 40.0, 50.0, 60.0, float("inf"))
Tick = Callable[[], None] | None


def fer_canvas(rgb: np.ndarray) -> np.ndarray:
    """A 48 px FER frame upscaled 4× (bicubic) with half its size of edge padding around it."""
    big = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    pad = big.shape[0] // 2
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def _same(rgb: np.ndarray) -> np.ndarray:
    return rgb


def _sample(files: list[Path], limit: int | None) -> list[Path]:
    """Evenly spaced files (the FER folders are per class, so never just the first ones)."""
    if limit is None or limit >= len(files):
        return files
    return [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]


@dataclass
class Predicted:
    """Per-image predictions and whether the detector found the face."""

    years: np.ndarray
    female: np.ndarray
    expression: np.ndarray  # index into LABELS
    expression_confidence: np.ndarray  # probability of the predicted expression
    detected: np.ndarray


def face_points(
    files: list[Path], prepare: Callable[[np.ndarray], np.ndarray], kind: str = DEFAULT_DETECTOR
) -> tuple[list[np.ndarray], np.ndarray]:
    """Five landmarks per image (of the face nearest the image centre) and whether the
    detector found it; a miss gets the mean layout of the faces found in the set."""
    detector = FaceDetector.shared(kind)
    points: list[np.ndarray | None] = []
    for path in files:
        rgb = prepare(load_image(path))
        found = detector.detect(rgb)
        if len(found):
            centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2
            distance = np.linalg.norm(centres - [rgb.shape[1] / 2, rgb.shape[0] / 2], axis=1)
            points.append(found.points[int(np.argmin(distance))])
        else:
            points.append(None)
    detected = np.array([p is not None for p in points], bool)
    fallback = np.mean([p for p in points if p is not None], axis=0) if detected.any() else None
    filled = []
    for five, path in zip(points, files, strict=True):
        if five is None:
            five = fallback if fallback is not None else _centred_layout(prepare(load_image(path)))
        filled.append(five)
    return filled, detected


def predict_files(
    files: list[Path],
    prepare: Callable[[np.ndarray], np.ndarray],
    tick: Tick = None,
    detector: str = DEFAULT_DETECTOR,
) -> Predicted:
    points, detected = face_points(files, prepare, detector)
    years, female, expression, confidence = [], [], [], []
    for path, five in zip(files, points, strict=True):
        rgb = prepare(load_image(path))
        age, gender, emotion = predict_attributes(rgb, one_face(five))[0]
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


def one_face(points: np.ndarray) -> FoundFaces:
    x1, y1 = points.min(axis=0)
    x2, y2 = points.max(axis=0)
    return FoundFaces(
        boxes=np.array([[x1, y1, x2, y2]], np.float32),
        scores=np.zeros(1, np.float32),
        points=points[None].astype(np.float32),
        mesh=np.zeros((1, 468, 3), np.float32),
        mesh_scores=np.zeros(1, np.float32),
    )


def _centred_layout(rgb: np.ndarray) -> np.ndarray:
    # Five landmarks of a face filling a centred square crop (used only if no face was found).
    unit = np.array([[0.69, 0.4], [0.31, 0.4], [0.5, 0.58], [0.66, 0.72], [0.34, 0.72]])
    return (unit * [rgb.shape[1], rgb.shape[0]]).astype(np.float32)


def utkface_labels(files: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(age, female, race) from AGE_GENDER_RACE_*.jpg (gender 1 = female)."""
    parts = [path.name.split("_") for path in files]
    return (
        np.array([int(p[0]) for p in parts]),
        np.array([p[1] == "1" for p in parts]),
        np.array([int(p[2]) for p in parts]),
    )


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
) -> dict:
    """Age/gender figures on UTKFace, expression figures on FER2013 (`limit` images each)."""
    utk_files = _sample(sorted(Path(utkface_dir).glob("*.jpg")), limit)
    fer_files = _sample(sorted(Path(fer_dir).glob("*/*.jpg")), limit)
    fer_files = [f for f in fer_files if f.parent.name in LABELS]
    if not utk_files or not fer_files:
        raise FileNotFoundError(f"no images found in {utkface_dir} or {fer_dir}")
    age, female, race = utkface_labels(utk_files)
    utk = predict_files(utk_files, _same, tick, detector)
    fer = predict_files(fer_files, fer_canvas, tick, detector)
    truth = np.array([LABELS.index(f.parent.name) for f in fer_files])
    report: dict = {
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
