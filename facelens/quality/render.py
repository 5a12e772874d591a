"""Pictures: the quality heat map over the photo, and the error-versus-discard plot.

Drawn with OpenCV (no plotting library needed).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facelens.drawing import with_legend
from facelens.recognition.dlib import DLIB_CHIP
from facelens.types import Face

BAND_BGR = {
    "green": (60, 170, 40),
    "yellow": (0, 200, 230),
    "orange": (0, 140, 255),
    "red": (40, 40, 220),
}


def overlay(rgb: np.ndarray, face: Face, alpha: float = 0.55) -> np.ndarray:
    """The photo (RGB) with face's heat map blended over the face (green raises the score,
    red lowers it), the trusted region (ROI) in white and the score in the band colour."""
    quality = face.quality
    if quality is None or quality.heatmap is None or quality.chip_matrix is None:
        raise ValueError("the face needs quality assessed with heatmap=True")
    matrix = quality.chip_matrix
    size = DLIB_CHIP.size
    heat = cv2.resize(quality.heatmap, (size, size), interpolation=cv2.INTER_CUBIC)
    h, w = rgb.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    heat_img = cv2.warpAffine(heat, inverse, (w, h), flags=cv2.INTER_LINEAR)
    cover = cv2.warpAffine(np.ones((size, size), np.float32), inverse, (w, h)) > 0.5
    colour = np.zeros((h, w, 3), np.float32)
    colour[..., 1] = np.clip(heat_img, 0, 1) * 255  # raises the score: green
    colour[..., 0] = np.clip(-heat_img, 0, 1) * 255  # lowers it: red
    weight = (alpha * np.clip(np.abs(heat_img) * 1.5, 0.15, 1) * cover)[..., None]
    out = (rgb * (1 - weight) + colour * weight).astype(np.uint8)
    bgr = np.ascontiguousarray(out[:, :, ::-1])
    thickness = max(1, round(max(h, w) / 400))
    if quality.roi is not None:
        r = quality.roi
        cv2.rectangle(
            bgr, (int(r.x1), int(r.y1)), (int(r.x2), int(r.y2)), (255, 255, 255), thickness
        )
    b = face.box
    label = f"{quality.score:.2f} {quality.verdict}"
    scale = max(0.4, max(h, w) / 1000)
    cv2.putText(
        bgr,
        label,
        (int(b.x1), max(int(b.y1) - 6, 12)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        BAND_BGR[quality.band],
        thickness + 1,
        cv2.LINE_AA,
    )
    return bgr[:, :, ::-1].copy()


def save_overlay(rgb: np.ndarray, face: Face, path: Path) -> None:
    """The overlay as PNG, with a legend strip naming what its colours mean."""
    quality = face.quality
    assert quality is not None
    title = f"quality {quality.score:.2f} {quality.verdict}; white box: trusted region (ROI)"
    picture = with_legend(overlay(rgb, face), title, signed=True)
    cv2.imwrite(str(path), picture[:, :, ::-1])


def _panel(report: dict, name: str, width: int, height: int) -> np.ndarray:
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 60, 20, 35, 45
    discard = np.asarray(report["discard"])
    curves = report[name]
    top_y = max(max(v["curve"]) for v in curves.values()) * 1.05 or 1.0

    def xy(x: float, y: float) -> tuple[int, int]:
        px = left + (x / discard[-1]) * (width - left - right)
        py = height - bottom - (y / top_y) * (height - top - bottom)
        return int(px), int(py)

    cv2.rectangle(img, xy(0, 0), xy(discard[-1], top_y), (0, 0, 0), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k in range(0, 31, 5):
        x, y = xy(k / 100, 0)
        cv2.putText(img, f"{k}%", (x - 10, y + 18), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for k in range(5):
        value = top_y * k / 4
        x, y = xy(0, value)
        cv2.putText(img, f"{value * 100:.1f}%", (4, y + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(
        img,
        f"{name}: FNMR @ FMR 1e-3 vs fraction discarded",
        (left, 22),
        font,
        0.5,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    styles = {
        "unified": ((200, 60, 0), 3),
        "random": ((60, 60, 60), 2),
        "embedding_stability": ((0, 140, 255), 2),
        "detector_confidence": ((160, 0, 160), 2),
    }
    order = [n for n in curves if n not in styles] + list(styles)
    for ordering in order:
        colour, thick = styles.get(ordering, ((200, 200, 200), 1))
        points = np.array(
            [xy(x, y) for x, y in zip(discard, curves[ordering]["curve"], strict=True)]
        )
        cv2.polylines(img, [points.reshape(-1, 1, 2)], False, colour, thick, cv2.LINE_AA)
    for row, (ordering, (colour, _)) in enumerate(styles.items()):
        y = top + 18 + row * 18
        cv2.line(img, (width - 250, y - 4), (width - 225, y - 4), colour, 3)
        text = f"{ordering} ({curves[ordering]['pauc_20']:.4f})"
        cv2.putText(img, text, (width - 220, y), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(
        img,
        "grey: single components",
        (width - 250, top + 18 + 4 * 18),
        font,
        0.4,
        (120, 120, 120),
        1,
        cv2.LINE_AA,
    )
    return img


def edc_plot(report: dict, path: Path) -> None:
    """Both sets' error-versus-discard curves side by side (pAUC@20% in the legend)."""
    panels = [_panel(report, name, 640, 420) for name in ("held_out", "degraded")]
    cv2.imwrite(str(path), np.hstack(panels))
