"""Raw component measures for every face of one image, batched across faces."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facelens.detection.align import CropTemplate, align_faces, warp_crop
from facelens.detection.detector import FoundFaces
from facelens.detection.dlib_points import dlib_points
from facelens.quality import eyes, geometry, image_stats
from facelens.quality.occlusion import occlusion_probabilities


@dataclass
class Measurements:
    raw: dict[str, np.ndarray]  # component name → (N,) raw values
    chips: np.ndarray  # (N, S, S, 3) aligned chips
    matrices: np.ndarray  # (N, 2, 3) image → chip
    masks: np.ndarray  # (N, S, S) bool: face pixels that exist in the image
    gray: np.ndarray  # (N, S, S) float32 luma of the chips
    image_size: tuple[int, int]  # width, height of the photo
    plain: np.ndarray  # (N, S, S, 3) antialiased chips the image statistics use


def chip_masks(
    faces: FoundFaces, matrices: np.ndarray, size: int, width: int, height: int
) -> np.ndarray:
    """Face (mesh hull) pixels of each chip that come from inside the image."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    masks = np.zeros((len(matrices), size, size), bool)
    for i, matrix in enumerate(matrices):
        hull = faces.mesh[i, :, :2].astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
        face = np.zeros((size, size), np.uint8)
        cv2.fillConvexPoly(face, cv2.convexHull(hull.astype(np.float32)).astype(np.int32), 1)
        inverse = cv2.invertAffineTransform(matrix)
        x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
        y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
        inside = (x >= 0) & (y >= 0) & (x <= width - 1) & (y <= height - 1)
        masks[i] = (face > 0) & inside
    return masks


def antialiased_chips(rgb: np.ndarray, matrices: np.ndarray, size: int) -> np.ndarray:
    """Chips for the image statistics: like the recogniser's, but any face shrunk onto the
    chip is first area-averaged, so that aliasing of a big face (a 1080p photo) does not
    read as noise or compression; a higher resolution must never look worse."""
    chips = [warp_crop(rgb, m, size, shrink_below=0.95, oversample=1.0) for m in matrices]
    return np.stack(chips) if chips else np.zeros((0, size, size, 3), np.uint8)


def measure(rgb: np.ndarray, faces: FoundFaces, template: CropTemplate) -> Measurements:
    """Every measure except embedding stability (which needs the recognition network)."""
    height, width = rgb.shape[:2]
    # the chips of the embedder quality is calibrated on (FaceLens.quality_embedder)
    chips, matrices = align_faces(rgb, dlib_points(faces.mesh), template)
    plain = antialiased_chips(rgb, matrices, template.size)
    gray = image_stats.luminance(plain)
    masks = chip_masks(faces, matrices, template.size, width, height)
    stats = [image_stats.masked_stats(g, m) for g, m in zip(gray, masks, strict=True)]
    pose = geometry.head_pose(faces.mesh, geometry.canonical())
    ied = geometry.inter_eye_distance(faces.points)
    occluded = occlusion_probabilities(plain)
    raw = {name: np.array([s[name] for s in stats]) for name in stats[0]} if stats else {}
    raw |= {
        "compression": np.array(
            [
                image_stats.blockiness(image_stats.luminance(image_stats.face_region(rgb, b)))
                for b in faces.boxes
            ]
        ),
        "yaw": pose[:, 0],
        "pitch": pose[:, 1],
        "roll": pose[:, 2],
        "eyes_open": eyes.eyes_open(rgb, faces.mesh, pose[:, 0]),
        "mouth_closed": geometry.mouth_open(faces.mesh),
        "inter_eye_distance": ied,
        "crop": geometry.crop_margin(faces.mesh, ied, width, height),
        "occlusion_eyes": occluded[:, 0],
        "occlusion_nose": occluded[:, 1],
        "occlusion_mouth": occluded[:, 2],
        "single_face": geometry.other_face_ratio(ied),
        "detector_confidence": faces.scores.astype(np.float64),
        "face_likeness": faces.mesh_scores.astype(np.float64),
    }
    return Measurements(raw, chips, matrices, masks, gray, (width, height), plain)
