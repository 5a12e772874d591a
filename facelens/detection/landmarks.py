"""The five alignment points, taken from the 468-point face mesh."""

from __future__ import annotations

import numpy as np

from facelens.detection.facemesh import MOUTH_LEFT, MOUTH_RIGHT, NOSE_TIP

# Face-mesh indices. "Left" is the subject's left (the right side of a frontal photo).
LEFT_EYE_CONTOUR = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)


def five_points(mesh: np.ndarray) -> np.ndarray:
    """(N, 468, 2+) mesh → (N, 5, 2): left eye, right eye, nose tip, mouth left, mouth right."""
    xy = mesh[..., :2]
    return np.stack(
        [
            xy[:, LEFT_EYE_CONTOUR].mean(axis=1),
            xy[:, RIGHT_EYE_CONTOUR].mean(axis=1),
            xy[:, NOSE_TIP],
            xy[:, MOUTH_LEFT],
            xy[:, MOUTH_RIGHT],
        ],
        axis=1,
    ).astype(np.float32)
