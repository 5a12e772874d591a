"""Raw component measures for every face of one image, batched across faces."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facelens.detection.align import CropTemplate, align_faces
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
    """Chips for the image statistics: like the recogniser's, but a face shrunk onto the
    chip is first area-averaged, so that aliasing of a big face (a 1080p photo) does not
    read as noise or compression; a higher resolution must never look worse."""
    out = []
    height, width = rgb.shape[:2]
    for matrix in matrices:
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        if scale >= 0.95:
            out.append(cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR))
            continue
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], float)
        mapped = corners @ cv2.invertAffineTransform(matrix).T
        x0, y0 = np.clip(np.floor(mapped.min(0)).astype(int) - 2, 0, [width, height])
        x1, y1 = np.clip(np.ceil(mapped.max(0)).astype(int) + 2, 0, [width, height])
        if x1 - x0 < 2 or y1 - y0 < 2:
            out.append(np.zeros((size, size, 3), np.uint8))
            continue
        region = cv2.resize(
            rgb[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
        )
        # chip = A·(p_region / scale + origin) + t
        adjusted = np.concatenate(
            [matrix[:, :2] / scale, (matrix[:, :2] @ [x0, y0] + matrix[:, 2])[:, None]], 1
        )
        out.append(cv2.warpAffine(region, adjusted, (size, size), flags=cv2.INTER_LINEAR))
    return np.stack(out) if out else np.zeros((0, size, size, 3), np.uint8)


def measure(rgb: np.ndarray, faces: FoundFaces, template: CropTemplate) -> Measurements:
    """Every measure except embedding stability (which needs the recognition network)."""
    height, width = rgb.shape[:2]
    # the same chips the recogniser sees (FaceLens.embed_mesh)
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
