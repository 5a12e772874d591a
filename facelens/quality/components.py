"""From raw measures to 0-100 component scores (100 = best), and the words for each.

Each raw value is mapped by straight lines between a "bad" anchor (score 0) and a "good"
anchor (score 100). The anchors are set from the measure's meaning (OFIQ's bounds where
there are some) and checked on LFW and its degraded copies (tools/train_quality.py prints
the distributions); the unified score learns how much each one matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scale:
    """score = 100 between good_low and good_high, 0 beyond bad_low / bad_high, linear
    in between. Use ±inf for a side that is never bad."""

    bad_low: float
    good_low: float
    good_high: float = np.inf
    bad_high: float = np.inf

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, np.float64)
        low = np.clip((raw - self.bad_low) / max(self.good_low - self.bad_low, 1e-9), 0, 1)
        high = np.clip((self.bad_high - raw) / max(self.bad_high - self.good_high, 1e-9), 0, 1)
        low = np.where(np.isinf(self.bad_low), 1.0, low)
        high = np.where(np.isinf(self.bad_high), 1.0, high)
        return 100 * np.minimum(low, high)


INF = np.inf
SCALES: dict[str, Scale] = {
    # log10 of Laplacian-of-Gaussian energy over luma variance on the 150 chip
    "sharpness": Scale(-1.8, -1.15),
    # fractions of face pixels below 25 / above 247 (OFIQ's bounds)
    "under_exposure": Scale(-INF, -INF, 0.05, 0.6),
    "over_exposure": Scale(-INF, -INF, 0.02, 0.4),
    "luminance_mean": Scale(0.08, 0.3, 0.7, 0.92),  # mean luma in [0, 1]
    "luminance_variance": Scale(0.0005, 0.006),  # luma variance in [0, 1]²
    "dynamic_range": Scale(3.5, 6.5),  # entropy of the luma histogram, bits
    "noise": Scale(-INF, -INF, 2.5, 12.0),  # Immerkær sigma, grey levels
    "compression": Scale(-INF, -INF, 1.35, 2.2),  # JPEG block-border step ratio
    "yaw": Scale(-60, -15, 15, 60),  # degrees
    "pitch": Scale(-45, -15, 15, 45),
    "roll": Scale(-60, -15, 15, 60),
    "eyes_open": Scale(0.12, 0.25),  # lid gap over eye width
    "mouth_closed": Scale(-INF, -INF, 0.15, 0.6),  # lip gap over mouth width
    "inter_eye_distance": Scale(8, 30),  # pixels in the photo
    "crop": Scale(-0.2, 0.4),  # smallest margin to the border, in inter-eye distances
    "occlusion_eyes": Scale(-INF, -INF, 0.2, 0.8),  # probability the region is covered
    "occlusion_nose": Scale(-INF, -INF, 0.2, 0.8),
    "occlusion_mouth": Scale(-INF, -INF, 0.2, 0.8),
    "single_face": Scale(-INF, -INF, 0.5, 0.9),  # next-largest face's size over this one's
    "detector_confidence": Scale(0.5, 0.85),
    "face_likeness": Scale(0.5, 0.95),  # the mesh's own face confidence
    "embedding_stability": Scale(0.96, 0.992),  # mean cosine to the unperturbed embedding
}
NAMES = tuple(SCALES)


def reason(name: str, raw: float) -> str:
    """Plain words for a component that pulled the score down."""
    if name in ("yaw", "pitch", "roll"):
        direction = {
            "yaw": ("face turned too far left", "face turned too far right"),
            "pitch": ("head tilted too far down", "head tilted too far up"),
            "roll": ("head tilted sideways", "head tilted sideways"),
        }[name]
        return direction[0] if raw < 0 else direction[1]
    if name == "luminance_mean":
        return "too dark" if raw < 0.5 else "too bright"
    if name == "crop":
        return "face cut off at the image edge" if raw < 0 else "face too close to the image edge"
    return WORDS[name]


WORDS = {
    "sharpness": "too blurred",
    "under_exposure": "under-exposed",
    "over_exposure": "over-exposed",
    "luminance_variance": "too little contrast",
    "dynamic_range": "too few grey levels (low dynamic range)",
    "noise": "too noisy",
    "compression": "strong compression artefacts",
    "eyes_open": "eyes closed",
    "mouth_closed": "mouth open",
    "inter_eye_distance": "face too small",
    "occlusion_eyes": "occluded eyes",
    "occlusion_nose": "occluded nose",
    "occlusion_mouth": "occluded mouth",
    "single_face": "another face of similar size in the photo",
    "detector_confidence": "face barely detected",
    "face_likeness": "does not look like a clear face",
    "embedding_stability": "recognition features unstable",
}


def normalise(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: SCALES[name](raw[name]) for name in NAMES if name in raw}
