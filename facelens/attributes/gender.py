"""Gender as users see it: the more probable label and its probability."""

from __future__ import annotations

from facelens.types import Gender


def to_gender(female: float) -> Gender:
    label = "female" if female >= 0.5 else "male"
    probability = female if label == "female" else 1.0 - female
    return Gender(label=label, probability=round(float(probability), 4))
