"""Measures from the 468-point face mesh: head pose, eyes open, mouth closed, inter-eye
distance, crop (margins to the image border) and single face present.

Mesh indices are MediaPipe's; "left" is the subject's left (image right in a frontal photo).
"""

from __future__ import annotations

import numpy as np

# Eyelid pairs (upper, lower) and eye corners (outer, inner).
RIGHT_LIDS = ((159, 145), (158, 153), (160, 144))
LEFT_LIDS = ((386, 374), (385, 380), (387, 373))
RIGHT_CORNERS, LEFT_CORNERS = (33, 133), (263, 362)
INNER_LIPS, MOUTH_CORNERS = (13, 14), (61, 291)
# Left/right mirror pairs that define the face's horizontal axis, and a vertical pair.
SYMMETRIC = ((33, 263), (133, 362), (61, 291), (234, 454), (127, 356), (132, 361))
FOREHEAD, CHIN = 10, 152


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation R (3×3, det +1) that best maps centred `source` onto centred `target`
    (rows are points): target ≈ s·source·Rᵀ."""
    u, _, vt = np.linalg.svd(target.T @ source)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def normalised(mesh: np.ndarray) -> np.ndarray:
    """Centre and scale a (468, 3) mesh to unit RMS radius."""
    centred = mesh - mesh.mean(axis=0)
    return centred / np.sqrt((centred**2).sum(axis=1).mean())


def upright_frame(mesh: np.ndarray) -> np.ndarray:
    """Rotation whose rows are the face's own right-ward, down-ward and backward axes."""
    x = np.mean([mesh[b] - mesh[a] for a, b in SYMMETRIC], axis=0)
    x /= np.linalg.norm(x)
    y = mesh[CHIN] - mesh[FOREHEAD]
    y -= x * (y @ x)
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)])


def canonical_mesh(meshes: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Generalised Procrustes mean of many (mostly frontal) meshes, turned upright so
    that its symmetric pairs lie level and its forehead sits straight above its chin."""
    shapes = np.stack([normalised(m.astype(np.float64)) for m in meshes])
    mean = shapes.mean(axis=0)
    for _ in range(iterations):
        aligned = np.stack([s @ kabsch(s, mean).T for s in shapes])
        mean = normalised(aligned.mean(axis=0))
    return mean @ upright_frame(mean).T


def head_pose(mesh: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """(N, 468, 3) image-space meshes → (N, 3) yaw, pitch, roll in degrees.

    Signs (as ../shared/data/README.md): yaw < 0 when the face turns to the image's left,
    pitch < 0 when looking down, roll < 0 when the head tilts to the image's left.
    """
    angles = np.zeros((len(mesh), 3))
    for i, face in enumerate(mesh.astype(np.float64)):
        rotation = kabsch(canonical, normalised(face))  # canonical → observed
        forward = rotation @ [0.0, 0.0, -1.0]  # the canonical face looks at the camera (-z)
        right = rotation @ [1.0, 0.0, 0.0]
        yaw = np.degrees(np.arctan2(forward[0], -forward[2]))
        pitch = -np.degrees(np.arctan2(forward[1], np.hypot(forward[0], forward[2])))
        roll = np.degrees(np.arctan2(right[1], right[0]))
        angles[i] = yaw, pitch, roll
    return angles


def _aperture(mesh: np.ndarray, lids: tuple, corners: tuple) -> np.ndarray:
    xy = mesh[..., :2]
    gap = np.mean([np.linalg.norm(xy[:, a] - xy[:, b], axis=1) for a, b in lids], axis=0)
    width = np.linalg.norm(xy[:, corners[0]] - xy[:, corners[1]], axis=1)
    return gap / np.maximum(width, 1e-6)


def eyes_open(mesh: np.ndarray) -> np.ndarray:
    """Eyelid aperture over eye width, the larger of the two eyes (a turned head hides
    one eye; one wide-open eye proves the eyes are open)."""
    return np.maximum(
        _aperture(mesh, RIGHT_LIDS, RIGHT_CORNERS), _aperture(mesh, LEFT_LIDS, LEFT_CORNERS)
    )


def mouth_open(mesh: np.ndarray) -> np.ndarray:
    """Gap between the inner lips over mouth width (0 = closed)."""
    return _aperture(mesh, (INNER_LIPS,), MOUTH_CORNERS)


def inter_eye_distance(points: np.ndarray) -> np.ndarray:
    """Eye-centre distance in image pixels, from the five landmarks (N, 5, 2)."""
    return np.linalg.norm(points[:, 0] - points[:, 1], axis=1)


def crop_margin(mesh: np.ndarray, ied: np.ndarray, width: int, height: int) -> np.ndarray:
    """Smallest margin from the face mesh to an image border, in inter-eye distances;
    negative when the face is cut off by the border."""
    xy = mesh[..., :2]
    margins = np.stack(
        [
            xy[..., 0].min(1),
            xy[..., 1].min(1),
            width - xy[..., 0].max(1),
            height - xy[..., 1].max(1),
        ],
        1,
    )
    return margins.min(axis=1) / np.maximum(ied, 1.0)


def other_face_ratio(ied: np.ndarray) -> np.ndarray:
    """For each face: the largest *other* face's inter-eye distance over its own (0 alone)."""
    if len(ied) < 2:
        return np.zeros(len(ied))
    out = np.zeros(len(ied))
    for i in range(len(ied)):
        out[i] = np.delete(ied, i).max() / max(float(ied[i]), 1.0)
    return out


def canonical() -> np.ndarray:
    """The shipped canonical mesh (468, 3), fitted on LFW by tools/train_quality.py."""
    from facelens.quality.params import array

    mesh = array("canonical_mesh")
    if mesh is None:
        raise RuntimeError(
            "facelens/quality/model.json lacks canonical_mesh; run tools/train_quality.py"
        )
    return mesh
