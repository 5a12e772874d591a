"""Age as users see it: years, a 90% interval and the Adience-style bucket.

The years come from the age model (`age_gender.FaceApiAgeGender` or an embedding head); the
interval from that model's measured residuals.
"""

from __future__ import annotations

import json

from facelens.types import Age

# (predicted years below, 5% and 95% quantiles of true − predicted) per predicted-age range
ResidualTable = tuple[tuple[float, float, float], ...]

ADIENCE_BUCKETS = ((0, 2), (4, 6), (8, 12), (15, 20), (25, 32), (38, 43), (48, 53), (60, 100))

# face-api's network regresses one number, so its 90% interval comes from residuals
# measured on the 3,000 UTKFace dev faces by `facelens eval attributes` (report key
# `age_residual_quantiles`; 2-fold cross-validated coverage 89.3%).
RESIDUAL_QUANTILES: ResidualTable = (
    (4.0, -0.8, 2.6),
    (10.0, -2.8, 5.6),
    (18.0, -5.2, 12.8),
    (25.0, -3.7, 11.2),
    (32.0, -7.6, 10.8),
    (40.0, -11.3, 10.9),
    (50.0, -16.0, 10.3),
    (60.0, -17.1, 10.5),
    (float("inf"), -12.6, 14.2),
)


def parse_residual_table(text: str) -> ResidualTable | None:
    """A residual table from a model's metadata (JSON rows [edge or null, q05, q95]): empty
    when there is none, None when its last row is not open-ended (incomplete)."""
    rows = json.loads(text or "[]")
    if rows and rows[-1][0] is not None:
        return None
    return tuple(
        (float("inf") if edge is None else float(edge), float(low), float(high))
        for edge, low, high in rows
    )


def bucket(years: float) -> str:
    """The nearest Adience bucket (distance to the range; ties go to the younger one)."""
    lo, hi = min(ADIENCE_BUCKETS, key=lambda b: max(b[0] - years, 0.0, years - b[1]))
    return f"({lo}-{hi})"


def interval(years: float, table: ResidualTable = RESIDUAL_QUANTILES) -> tuple[float, float]:
    """90% interval from a residual table, clipped at 0 and always containing `years`."""
    low, high = next((q05, q95) for edge, q05, q95 in table if years < edge)
    return (round(max(years + min(low, 0.0), 0.0), 1), round(years + max(high, 0.0), 1))


def to_age(years: float, table: ResidualTable = RESIDUAL_QUANTILES) -> Age:
    """One face's predicted years with its interval (from the model's residual table) and
    Adience bucket."""
    years = round(max(float(years), 0.0), 1)
    return Age(years=years, interval=interval(years, table), bucket=bucket(years))
