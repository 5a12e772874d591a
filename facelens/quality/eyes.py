"""Eyes open: eyelid aperture from MediaPipe's iris-landmark network on 64×64 eye crops.

The face mesh alone barely closes its eyelids (closed eyes still measure ~0.2 of the eye
width against ~0.3 open); the dedicated eye network separates them (~0.05 against ~0.4).
"""

from __future__ import annotations

import cv2
import numpy as np

from facelens.models.onnx_model import OnnxModel, shared

SIZE = 64
ENLARGE = 2.3  # MediaPipe's eye ROI: 2.3× the corner-to-corner distance
# Mesh eye corners, listed image-left first: subject's right eye (33, 133), left (362, 263).
EYES = ((33, 133), (362, 263))
# Iris-network contour: 0 and 8 are the corners, 4 the lower and 12 the upper lid centre.
CORNER_A, CORNER_B, LOWER, UPPER = 0, 8, 4, 12
MESH_SURELY_OPEN = 0.22  # mesh lid gap over eye width above which the eye network is skipped


class IrisLandmarks(OnnxModel):
    file_name = "iris.onnx"

    def __init__(self) -> None:
        super().__init__(threads=1)  # two 64×64 crops: threads only add hand-over cost


def eye_crops(rgb: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """(N, 468, 3) → (N·2, 64, 64, 3) upright eye crops; the subject's left eye is mirrored,
    as the network was trained on one eye side."""
    crops = []
    for face in mesh[..., :2].astype(np.float64):
        for side, (a, b) in enumerate(EYES):
            start, end = face[a], face[b]
            centre, delta = (start + end) / 2, end - start
            side_px = max(ENLARGE * float(np.linalg.norm(delta)), 4.0)
            angle = float(np.degrees(np.arctan2(delta[1], delta[0])))
            matrix = cv2.getRotationMatrix2D(
                (float(centre[0]), float(centre[1])), angle, SIZE / side_px
            )
            matrix[:, 2] += SIZE / 2 - centre
            crop = cv2.warpAffine(
                rgb,
                matrix,
                (SIZE, SIZE),
                flags=cv2.INTER_AREA if side_px > 2 * SIZE else cv2.INTER_LINEAR,
            )
            crops.append(crop[:, ::-1] if side else crop)
    return np.stack(crops) if crops else np.zeros((0, SIZE, SIZE, 3), np.uint8)


def eye_apertures(rgb: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """(N, 2) lid gap over eye width for the image-left and image-right eye (one call)."""
    if len(mesh) == 0:
        return np.zeros((0, 2))
    model = shared(IrisLandmarks)
    crops = eye_crops(rgb, mesh).astype(np.float32) / 255.0
    points = model.run(crops)[0].reshape(len(crops), -1)[:, :213].reshape(-1, 71, 3)[..., :2]
    gap = np.linalg.norm(points[:, UPPER] - points[:, LOWER], axis=1)
    width = np.linalg.norm(points[:, CORNER_A] - points[:, CORNER_B], axis=1)
    return (gap / np.maximum(width, 1e-6)).reshape(-1, 2)


def combine(apertures: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Both eyes must be open, so the smaller aperture counts, except in a strongly turned
    head, where the far eye is foreshortened and only the near one can be judged."""
    near = np.where(yaw < 0, apertures[:, 1], apertures[:, 0])  # turned left: image-right eye
    return np.where(np.abs(yaw) > 30, near, apertures.min(axis=1))


def eyes_open(rgb: np.ndarray, mesh: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Lid gap over eye width. The mesh's own eyelids decide the clear cases (it never
    reports a closed eye wider than MESH_SURELY_OPEN: on LFW, faces above it measure ≥ 0.15
    with the eye network, well clear of closed); the eye network judges the rest."""
    from facelens.quality.geometry import LEFT_CORNERS, LEFT_LIDS, RIGHT_CORNERS, RIGHT_LIDS
    from facelens.quality.geometry import _aperture as mesh_aperture

    by_mesh = combine(
        np.stack(
            [
                mesh_aperture(mesh, RIGHT_LIDS, RIGHT_CORNERS),
                mesh_aperture(mesh, LEFT_LIDS, LEFT_CORNERS),
            ],
            1,
        ),
        yaw,
    )
    unsure = by_mesh < MESH_SURELY_OPEN
    out = by_mesh.astype(np.float64)
    if unsure.any():
        out[unsure] = combine(eye_apertures(rgb, mesh[unsure]), yaw[unsure])
    return out
