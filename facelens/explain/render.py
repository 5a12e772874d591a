"""Pictures of explanations: map overlays and a side-by-side panel for a pair (OpenCV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facelens.drawing import colourise, put_text
from facelens.errors import ErrorCode, FaceLensError
from facelens.explain.result import Explanation, PairExplanation
from facelens.io import shortened

PANEL_FACE = 300  # pixels per face in a pair panel


def overlay(
    explanation: Explanation, on: str = "image", alpha: float = 0.5, box: bool = True
) -> np.ndarray:
    """RGB uint8 picture: the map over the original image (`on="image"`) or the crop."""
    use_image = on == "image" and explanation.image is not None
    base = explanation.image if use_image else explanation.crop
    values = explanation.image_map if use_image else explanation.crop_map
    assert base is not None and values is not None
    colours, opacity = colourise(values, alpha)
    if use_image:  # outside the crop the inverse warp gives 0: leave the photo untouched
        opacity = opacity * _inside_crop(explanation)
    picture = base.astype(np.float32) * (1 - opacity[..., None]) + colours * opacity[..., None]
    picture = np.clip(picture, 0, 255).astype(np.uint8)
    if use_image and box and explanation.face_box is not None:
        b = explanation.face_box
        thickness = max(1, round(max(picture.shape[:2]) / 300))
        cv2.rectangle(
            picture,
            (round(b.x1), round(b.y1)),
            (round(b.x2), round(b.y2)),
            (255, 255, 255),
            thickness,
        )
    return picture


def _inside_crop(explanation: Explanation) -> np.ndarray:
    """1 on the crop's footprint in the image, 0 elsewhere (a warped map of ones)."""
    image, matrix = explanation.image, explanation.matrix
    assert image is not None
    if matrix is None:
        return np.ones(image.shape[:2], np.float32)
    ones = np.ones(explanation.crop_map.shape, np.float32)
    return cv2.warpAffine(
        ones,
        matrix,
        (image.shape[1], image.shape[0]),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
    )


def pair_panel(pair: PairExplanation, alpha: float = 0.55) -> np.ndarray:
    """Both aligned faces with their maps side by side, the similarity and decision above."""
    faces = []
    for side in (pair.a, pair.b):
        picture = cv2.resize(
            overlay(side, on="crop", alpha=alpha),
            (PANEL_FACE, PANEL_FACE),
            interpolation=cv2.INTER_LINEAR,
        )
        faces.append(picture)
    gap = np.full((PANEL_FACE, 12, 3), 255, np.uint8)
    body = np.concatenate([faces[0], gap, faces[1]], axis=1)
    header = np.full((70, body.shape[1], 3), 255, np.uint8)
    verdict = "SAME PERSON" if pair.same_person else "DIFFERENT PEOPLE"
    colour = (0, 140, 60) if pair.same_person else (200, 30, 30)
    put_text(
        header,
        f"similarity {pair.similarity:.3f} (threshold {pair.threshold:.3f})",
        8,
        26,
        (0, 0, 0),
    )
    put_text(header, f"{verdict}   [{pair.method}]", 8, 56, colour)
    footer = np.full((28, body.shape[1], 3), 255, np.uint8)
    put_text(footer, "green: similar   red: dissimilar", 8, 20, (60, 60, 60), 0.5)
    return np.concatenate([header, body, footer], axis=0)


def save_png(picture: np.ndarray, path: str | Path) -> Path:
    """Write an RGB uint8 picture as PNG (OpenCV answers False, not an error, when it cannot)."""
    path = Path(path)
    if not cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"could not write {shortened(path)}")
    return path
