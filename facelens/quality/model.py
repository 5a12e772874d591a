"""The unified quality score: a small monotone additive model over the component scores.

score = sigmoid(bias − Σₖ penaltyₖ(componentₖ / 100)), where each penalty is a learned,
non-increasing, piecewise-linear curve that is 0 at a perfect component. So a better
component can never lower the score, and each component's penalty says exactly how much
it pulled the score down: the reasons come straight from the model.
"""

from __future__ import annotations

import numpy as np

from facelens.quality.params import params

KNOTS = np.linspace(0.0, 1.0, 11)


def ramps(x: np.ndarray) -> np.ndarray:
    """(N,) values in [0, 1] → (N, K-1) ramp features: ramp j is 1 below knot j, 0 above
    knot j+1 (so a non-negative weighted sum is a non-increasing curve, 0 at x = 1)."""
    step = KNOTS[1] - KNOTS[0]
    return np.clip((KNOTS[None, 1:] - np.asarray(x)[:, None]) / step, 0.0, 1.0)


def penalties(scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each component's pull on the logit (≥ 0; 0 = no harm)."""
    weights = params()["unified"]["weights"]
    return {
        name: ramps(np.clip(scores[name] / 100, 0, 1)) @ np.asarray(w)
        for name, w in weights.items()
    }


def unified(scores: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(N,) scores in [0, 1] and the penalties behind them."""
    pulls = penalties(scores)
    logit = params()["unified"]["bias"] - sum(pulls.values())
    return 1 / (1 + np.exp(-logit)), pulls
