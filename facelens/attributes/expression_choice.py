"""Expression probabilities from the chosen model: one network, or an ensemble ("a+b" in
attributes.choice) whose members' calibrated probabilities are averaged."""

from __future__ import annotations

import numpy as np

from facelens.attributes.choice import (
    DEFAULT_CHOICE,
    FACEAPI_FER,
    MINI_XCEPTION,
    ModelSpec,
    expression_members,
    load_expression,
)
from facelens.attributes.expression import TEMPERATURE, MiniXceptionEmotion, calibrate
from facelens.attributes.expression_net import TrainedExpression
from facelens.models.onnx_model import shared

# A temperature on the averaged probabilities of a shipped ensemble: each member is
# calibrated, but their mean is less confident than it is right (mean top probability 0.61
# at 68.3% accuracy on the 2,000 fer2013-dev faces, calibration error 7.2%). Fitted there as
# mini-Xception's own TEMPERATURE is (by log-loss; T 0.80 / 0.75 on the two halves, error
# on the other half 3.1% / 4.4%; all faces 0.75, 3.1%;
# `tools/experiments/expression_temperature.py --model mini-xception+faceapi-fer`).
ENSEMBLE_TEMPERATURES: dict[frozenset[str], float] = {frozenset((MINI_XCEPTION, FACEAPI_FER)): 0.75}


def member_temperature(member: ModelSpec) -> float:
    """The temperature that calibrates one expression network's probabilities: mini-Xception's
    is applied outside its graph, a trained network has its own inside (1 here)."""
    return TEMPERATURE if member == MINI_XCEPTION else 1.0


def ensemble_temperature(spec: ModelSpec) -> float:
    """The temperature on an ensemble's mean probabilities (its members in any order; 1 for
    an ensemble none was fitted for, and for a single network)."""
    return ENSEMBLE_TEMPERATURES.get(frozenset(map(str, expression_members(spec))), 1.0)


def expression_probabilities(
    rgb: np.ndarray,
    points: np.ndarray,
    spec: ModelSpec = DEFAULT_CHOICE.expression,
    temperature: float | None = None,
) -> np.ndarray:
    """(N, 7) calibrated probabilities in LABELS order for the faces at `points` (N, 5, 2).
    temperature: applied to an ensemble's mean (default: ENSEMBLE_TEMPERATURES, else none)."""
    members = expression_members(spec)
    outputs = []
    for member in members:
        network = (
            shared(MiniXceptionEmotion) if member == MINI_XCEPTION else load_expression(member)
        )
        assert isinstance(network, MiniXceptionEmotion | TrainedExpression)
        outputs.append(calibrate(network.probabilities(rgb, points), member_temperature(member)))
    mean = np.mean(outputs, axis=0)
    if len(members) == 1:
        return mean
    return calibrate(mean, ensemble_temperature(spec) if temperature is None else temperature)
