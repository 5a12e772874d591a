"""Per-frame signals of one face: eye openness per eye (the iris network), head pose (the
mesh against the canonical face), the mesh points themselves and a small grey face patch.

The rest of the liveness package judges sequences of these; nothing there looks at pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from facelens.detection.detector import FoundFaces
from facelens.quality.eyes import eye_apertures
from facelens.quality.geometry import canonical, head_pose

PATCH = 48  # px: side of the grey face patch kept for the frozen-frame test


@dataclass
class FaceSignal:
    frame: int
    time: float
    track_id: int
    eyes: np.ndarray  # (2,) lid gap over eye width, image-left then image-right eye
    yaw: float  # degrees, < 0 when the face turns to the image's left
    pitch: float
    mesh: np.ndarray  # (468, 2) image pixels
    side: float  # face box side in pixels
    patch: np.ndarray  # (PATCH, PATCH) float32 grey levels of the face box

    @property
    def openness(self) -> float:
        """Both eyes must be open: the smaller aperture, except in a strongly turned head,
        where the far eye is foreshortened and only the near one counts."""
        if abs(self.yaw) > 30:
            return float(self.eyes[1] if self.yaw < 0 else self.eyes[0])
        return float(self.eyes.min())


@lru_cache(maxsize=1)
def _canonical() -> np.ndarray:
    return canonical()


def face_patch(rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    x0, y0 = int(max(box[0], 0)), int(max(box[1], 0))
    x1, y1 = int(min(box[2], width)), int(min(box[3], height))
    crop = rgb[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (PATCH, PATCH), interpolation=cv2.INTER_AREA).astype(np.float32)


def measure(
    rgb: np.ndarray, found: FoundFaces, index: int, frame: int, time: float, track_id: int
) -> FaceSignal:
    """The signals of face `index` of one frame's detections."""
    mesh = found.mesh[index : index + 1]
    yaw, pitch, _ = head_pose(mesh, _canonical())[0]
    box = found.boxes[index]
    return FaceSignal(
        frame=frame,
        time=time,
        track_id=track_id,
        eyes=eye_apertures(rgb, mesh)[0],
        yaw=float(yaw),
        pitch=float(pitch),
        mesh=mesh[0, :, :2].astype(np.float32),
        side=float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 1.0))),
        patch=face_patch(rgb, box),
    )
