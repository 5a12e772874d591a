"""Expression probabilities from the chosen model: one network, or an ensemble ("a+b" in
attributes.choice) whose members' calibrated probabilities are averaged."""

from __future__ import annotations

import numpy as np

from facelens.attributes.choice import (
    DEFAULT_CHOICE,
    MINI_XCEPTION,
    ModelSpec,
    expression_members,
    load_expression,
)
from facelens.attributes.expression import MiniXceptionEmotion, calibrate
from facelens.models.onnx_model import shared


def expression_probabilities(
    rgb: np.ndarray, points: np.ndarray, spec: ModelSpec = DEFAULT_CHOICE.expression
) -> np.ndarray:
    """(N, 7) calibrated probabilities in LABELS order for the faces at `points` (N, 5, 2)."""
    outputs = []
    for member in expression_members(spec):
        if member == MINI_XCEPTION:
            network = shared(MiniXceptionEmotion)
            assert isinstance(network, MiniXceptionEmotion)
            outputs.append(calibrate(network.probabilities(rgb, points)))
        else:  # a trained network, calibrated inside
            outputs.append(load_expression(member).probabilities(rgb, points))
    return np.mean(outputs, axis=0)
