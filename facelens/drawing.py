"""Drawing shared by explanation maps and quality heat maps: colours, text, legend strips."""

from __future__ import annotations

import cv2
import numpy as np

SIMILAR = np.array([0, 200, 80], np.float32)  # RGB for positive values of signed maps
DISSIMILAR = np.array([235, 40, 40], np.float32)  # RGB for negative values


def colourise(values: np.ndarray, alpha: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """RGB colours and per-pixel opacity for a map ([0, 1]: JET; [-1, 1]: green/red)."""
    if values.min() >= 0:
        colours = cv2.applyColorMap(np.uint8(np.clip(values, 0, 1) * 255), cv2.COLORMAP_JET)
        # Opacity follows the value, as in the REST overlays: where the map is 0 (Grad-CAM's
        # ReLU, the crop's corners beyond the face) the photo shows, not a flat blue square.
        opacity = (alpha * np.clip(values, 0, 1)).astype(np.float32)
        return cv2.cvtColor(colours, cv2.COLOR_BGR2RGB).astype(np.float32), opacity
    positive, negative = np.clip(values, 0, 1)[..., None], np.clip(-values, 0, 1)[..., None]
    colours = (positive * SIMILAR + negative * DISSIMILAR) / np.maximum(positive + negative, 1e-6)
    # Opacity follows |value| so that near-zero regions show the face itself.
    return colours, alpha * np.clip(np.abs(values) * 1.5, 0, 1)


def put_text(
    canvas: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int], scale: float = 0.65
) -> None:
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 2, cv2.LINE_AA)


def with_legend(picture: np.ndarray, title: str, signed: bool) -> np.ndarray:
    """The picture with a white strip below: a title and the colour scale's meaning (the
    JET bar for [0, 1] maps; green and red swatches for signed ones)."""
    # Drawn at 600 px and scaled to the picture, so the text reads alike on any photo size.
    strip = np.full((56, 600, 3), 255, np.uint8)
    put_text(strip, title, 8, 20, (0, 0, 0), 0.5)
    if signed:
        strip[30:48, 8:26], strip[30:48, 150:168] = SIMILAR, DISSIMILAR
        put_text(strip, "raises it", 30, 45, (60, 60, 60), 0.45)
        put_text(strip, "lowers it", 172, 45, (60, 60, 60), 0.45)
    else:
        bar, _ = colourise(np.tile(np.linspace(0, 1, 160, dtype=np.float32), (18, 1)))
        strip[30:48, 60:220] = bar.astype(np.uint8)
        put_text(strip, "low", 8, 45, (60, 60, 60), 0.45)
        put_text(strip, "high influence", 228, 45, (60, 60, 60), 0.45)
    width = max(picture.shape[1], 360)
    strip = cv2.resize(strip, (width, round(56 * width / 600)), interpolation=cv2.INTER_AREA)
    if picture.shape[1] < width:  # a narrow picture: centre it on the strip's width
        pad = width - picture.shape[1]
        picture = cv2.copyMakeBorder(
            picture, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_CONSTANT, value=(255, 255, 255)
        )
    return np.concatenate([picture, strip], axis=0)
