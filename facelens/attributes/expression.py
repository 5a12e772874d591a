"""Expression: oarriaga's mini-Xception trained on FER2013 (emotion.onnx), 7 classes.

Crop: 64×64 in FER2013's own framing (the network saw whole 48×48 FER frames, scaled up):
the mean position of our five landmarks on 1,904 detected FER2013 test faces, in 64 px.
Views: that crop zoomed 0.95 and 1.05, each also mirrored, averaged (66.5% on 2,000 FER2013
faces; single crop 65.2%, + mirror 65.6%, 3 zooms + mirrors 66.6% at 1.5× the cost).
Input: grey (BT.601 luma), NHWC float32, −1..1.
"""

from __future__ import annotations

import numpy as np

from facelens.attributes.base import AttributeModel
from facelens.attributes.crops import view_batch, view_mean, zoomed
from facelens.detection.align import CropTemplate
from facelens.types import Expression

LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
# The network's output order (oarriaga / human's emotion.ts), mapped to LABELS.
NETWORK_ORDER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
_TO_LABELS = [NETWORK_ORDER.index(label) for label in LABELS]

FER_FRAME = CropTemplate(
    size=64,
    points=np.array(
        [[42.67, 23.91], [19.95, 24.44], [31.50, 39.21], [41.10, 47.84], [22.81, 48.30]],
        dtype=np.float32,
    ),
)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# Temperature on the view-averaged probabilities (p ** (1/T), renormalised): the network is
# over-confident (mean top probability 0.74 against 65.75% accuracy on 2,000 FER2013 faces).
# Fitted by log-loss on that sample, 2-fold cross-validated (T 1.45 on both halves,
# calibration error 7.9-8.5% -> 2.6-2.8% with YuNet's faces, 2026-12-01;
# tools/experiments/expression_temperature.py).
# The top label, hence accuracy, is unchanged.
TEMPERATURE = 1.45


class MiniXceptionEmotion(AttributeModel):
    """N faces in, N×7 probabilities in LABELS order out (one call for all views)."""

    file_name = "emotion.onnx"
    templates = tuple(zoomed(FER_FRAME, factor) for factor in (0.95, 1.05))
    flip = True

    def probabilities(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        if len(points) == 0:
            return np.zeros((0, len(LABELS)), np.float32)
        chips = view_batch(rgb, points, self.templates, self.flip)
        grey = (chips.astype(np.float32) @ LUMA)[..., None]
        batch = grey / 127.5 - 1.0
        return view_mean(self.run(batch)[0], len(points))[:, _TO_LABELS]


def calibrate(probabilities: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    """The network's (..., 7) view-averaged probabilities with the temperature applied
    (p ** (1/T), renormalised); the top label is unchanged."""
    if temperature == 1.0:  # nothing to soften (a network calibrated inside its graph)
        return probabilities
    calibrated = np.power(np.clip(probabilities, 1e-12, None), 1.0 / temperature)
    return calibrated / calibrated.sum(axis=-1, keepdims=True)


def to_expression(probabilities: np.ndarray) -> Expression:
    """Calibrated probabilities (7,) in LABELS order → the result."""
    top = int(np.argmax(probabilities))
    values = {label: round(float(p), 4) for label, p in zip(LABELS, probabilities, strict=True)}
    return Expression(label=LABELS[top], probability=values[LABELS[top]], probabilities=values)
