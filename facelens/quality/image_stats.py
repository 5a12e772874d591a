"""Image statistics of a face, after ISO/IEC 29794-5 and OFIQ: sharpness, exposure,
luminance, dynamic range, noise and JPEG blockiness.

All but blockiness are measured on the aligned 150×150 chip (the pixels the recogniser
sees) inside the face mask, so they do not depend on how big the photo is.
"""

from __future__ import annotations

import cv2
import numpy as np

UNDER, OVER = 25, 247  # OFIQ's luminance bounds for under- and over-exposed pixels
MAX_BLOCK_SIDE = 512
SHARPNESS_SIGMA = 1.0  # blockiness looks at most at this many pixels around the face centre


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, float32 in [0, 255]; works on (..., 3) arrays."""
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def masked_stats(gray: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Statistics of one chip's luma (S×S float) over the boolean mask."""
    values = gray[mask]
    if values.size < 16:
        return dict.fromkeys(
            (
                "under_exposure",
                "over_exposure",
                "luminance_mean",
                "luminance_variance",
                "dynamic_range",
                "sharpness",
                "noise",
            ),
            0.0,
        )
    histogram = np.bincount(np.clip(values, 0, 255).astype(np.int32), minlength=256)
    p = histogram[histogram > 0] / values.size
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    # Sharpness: energy of the Laplacian of Gaussian (sigma 1 px at the chip's 150 px, which
    # ignores pixel noise and JPEG grain) relative to the contrast, so that a dark but sharp
    # face is not called blurred (exposure has its own measures). log10 for a usable range.
    contrast = float(values.var()) + 1.0
    smooth = cv2.GaussianBlur(gray, (0, 0), SHARPNESS_SIGMA)
    log_energy = cv2.Laplacian(smooth, cv2.CV_32F, ksize=3)[inner] ** 2
    sharp = float(np.mean(log_energy)) if log_energy.size else 0.0
    # Noise: Immerkær's fast estimator (second differences cancel smooth shading).
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    residual = np.abs(cv2.filter2D(gray, cv2.CV_32F, kernel))
    sigma = float(np.sqrt(np.pi / 2) / 6 * np.median(residual[inner])) if inner.any() else 0.0
    return {
        "under_exposure": float(np.mean(values < UNDER)),
        "over_exposure": float(np.mean(values > OVER)),
        "luminance_mean": float(values.mean() / 255),
        "luminance_variance": float(values.var() / 255**2),
        "dynamic_range": float(-(p * np.log2(p)).sum()),  # entropy in bits, as OFIQ
        "sharpness": float(np.log10(sharp / contrast + 1e-6)),
        "noise": sigma,
    }


def blockiness(gray: np.ndarray) -> float:
    """JPEG 8×8 block artefacts: mean step across block borders over the mean step inside
    blocks (≈1 for natural images, much larger for strongly compressed ones). Needs the
    photo's own pixel grid, so it runs on the original image, not the resampled chip."""
    if min(gray.shape) < 24:
        return 1.0
    dx = np.abs(np.diff(gray, axis=1))
    dy = np.abs(np.diff(gray, axis=0))
    # diff index i is the step between pixels i and i+1: a block border when i % 8 == 7
    border_x, border_y = (np.arange(dx.shape[1]) % 8) == 7, (np.arange(dy.shape[0]) % 8) == 7
    across = dx[:, border_x].sum() + dy[border_y].sum()
    inside = dx[:, ~border_x].sum() + dy[~border_y].sum()
    n_across = dx[:, border_x].size + dy[border_y].size
    n_inside = dx[:, ~border_x].size + dy[~border_y].size
    return float((across / n_across + 0.5) / (inside / n_inside + 0.5))


def face_region(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The face box (cut to the image and to MAX_BLOCK_SIDE), on the 8-pixel grid."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = min(max(x2 - x1, y2 - y1), MAX_BLOCK_SIDE) / 2
    x0 = int(np.clip(cx - half, 0, w)) // 8 * 8
    y0 = int(np.clip(cy - half, 0, h)) // 8 * 8
    return image[y0 : int(np.clip(cy + half, 0, h)), x0 : int(np.clip(cx + half, 0, w))]
