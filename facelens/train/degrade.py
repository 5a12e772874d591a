"""Synthetic degradations of face photos, for training and evaluating the quality score.

Every function takes an RGB uint8 image and returns a new one; randomness comes only from the
`rng` passed in, so a (seed, image) pair always yields the same degraded copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KINDS = (
    "gaussian_blur",
    "motion_blur",
    "noise",
    "jpeg",
    "under_exposure",
    "over_exposure",
    "downscale",
    "occlusion",
    "rotation",
)
REGIONS = ("eyes", "nose", "mouth", "eyes+nose", "nose+mouth")


@dataclass(frozen=True)
class Degradation:
    kind: str
    level: float  # sigma, length, quality, factor, angle... (meaning depends on kind)
    region: str = ""  # occlusion only
    option: int = 0  # motion-blur angle, occlusion fill style, downscale: 1 = enlarge back

    def label(self) -> str:
        return f"{self.kind}:{self.level:g}" + (f":{self.region}" if self.region else "")

    def matrix(self, width: int, height: int) -> np.ndarray:
        """2×3 map of original pixels onto the degraded image (it moves the face)."""
        if self.kind == "rotation":
            return cv2.getRotationMatrix2D((width / 2, height / 2), self.level, 1.0)
        if self.kind == "downscale" and not self.option:
            w, h = _small_size(width, height, self.level)
            return np.array([[w / width, 0, 0], [0, h / height, 0]])
        return np.array([[1.0, 0, 0], [0, 1.0, 0]])


def gaussian_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma)


def motion_blur(rgb: np.ndarray, length: float, angle: float) -> np.ndarray:
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (size, size))
    return cv2.filter2D(rgb, -1, kernel / max(kernel.sum(), 1e-6))


def noise(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = rgb.astype(np.float32) + rng.normal(0.0, sigma, rgb.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: float) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def brightness(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def downscale(rgb: np.ndarray, factor: float, back_up: bool) -> np.ndarray:
    """Shrink by `factor`; with back_up, enlarge again to the original size (lost detail)."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, _small_size(w, h, factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if back_up else small


def _small_size(width: int, height: int, factor: float) -> tuple[int, int]:
    return max(8, round(width * factor)), max(8, round(height * factor))


def rotate(rgb: np.ndarray, angle: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REFLECT101)


def occlude(
    rgb: np.ndarray, points: np.ndarray, region: str, style: int, rng: np.random.Generator
) -> np.ndarray:
    """Cover eyes / nose / mouth (from the five landmarks) with a plain, noisy or textured
    patch, like sunglasses, a hand, a mask or a scarf."""
    left, right, nose, mouth_l, mouth_r = points.astype(np.float64)
    ied = max(float(np.linalg.norm(left - right)), 4.0)
    eyes_mid = (left + right) / 2
    mouth_mid = (mouth_l + mouth_r) / 2
    boxes = {
        "eyes": (eyes_mid, 1.75 * ied, 0.6 * ied),
        "nose": ((eyes_mid + 2 * nose) / 3 + np.array([0, 0.1 * ied]), 0.75 * ied, 0.85 * ied),
        "mouth": (mouth_mid + np.array([0, 0.05 * ied]), 1.3 * ied, 0.75 * ied),
    }
    out = rgb.copy()
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for part in region.split("+"):
        centre, width, height = boxes[part]
        x0, y0 = centre - [width / 2, height / 2]
        cv2.rectangle(mask, (int(x0), int(y0)), (int(x0 + width), int(y0 + height)), 255, -1)
    if style == 0:  # plain colour
        fill = np.broadcast_to(rng.integers(0, 256, 3).astype(np.uint8), rgb.shape)
    elif style == 1:  # noisy colour
        base = rng.integers(0, 256, 3).astype(np.float32)
        fill = np.clip(base + rng.normal(0, 25, rgb.shape), 0, 255).astype(np.uint8)
    else:  # texture: a rolled, flipped copy of the photo (background, hair, clothes)
        fill = np.roll(rgb[::-1, ::-1], (h // 2, w // 3), axis=(0, 1))
    out[mask > 0] = fill[mask > 0]
    return out


def apply(
    rgb: np.ndarray, degradation: Degradation, points: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    kind, level = degradation.kind, degradation.level
    if kind == "gaussian_blur":
        return gaussian_blur(rgb, level)
    if kind == "motion_blur":
        return motion_blur(rgb, level, float(degradation.option))
    if kind == "noise":
        return noise(rgb, level, rng)
    if kind == "jpeg":
        return jpeg(rgb, level)
    if kind in ("under_exposure", "over_exposure"):
        return brightness(rgb, level)
    if kind == "downscale":
        return downscale(rgb, level, back_up=bool(degradation.option))
    if kind == "occlusion":
        return occlude(rgb, points, degradation.region, degradation.option, rng)
    if kind == "rotation":
        return rotate(rgb, level)
    raise ValueError(f"unknown degradation {kind!r}")


def sample(rng: np.random.Generator) -> Degradation:
    """A random degradation, mild to severe, for training and the degraded evaluation set."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    if kind == "gaussian_blur":
        return Degradation(kind, round(float(rng.uniform(0.7, 7.0)), 2))
    if kind == "motion_blur":
        return Degradation(kind, round(float(rng.uniform(4, 30)), 1), option=int(rng.integers(180)))
    if kind == "noise":
        return Degradation(kind, round(float(rng.uniform(5, 60)), 1))
    if kind == "jpeg":
        return Degradation(kind, float(rng.integers(2, 31)))
    if kind == "under_exposure":
        return Degradation(kind, round(float(rng.uniform(0.08, 0.6)), 3))
    if kind == "over_exposure":
        return Degradation(kind, round(float(rng.uniform(1.5, 5.0)), 2))
    if kind == "downscale":
        return Degradation(
            kind, round(float(rng.uniform(0.1, 0.6)), 3), option=int(rng.integers(2))
        )
    if kind == "occlusion":
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        return Degradation(kind, 1.0, region, option=int(rng.integers(3)))
    angle = float(rng.uniform(25, 100)) * (1 if rng.integers(2) else -1)
    return Degradation("rotation", round(angle, 1))


# The "severe" degradations, which must all be refused (verdict retake).
SEVERE = (
    Degradation("gaussian_blur", 4.0),
    Degradation("jpeg", 5.0),
    Degradation("under_exposure", 0.15),
    Degradation("over_exposure", 4.0),
    Degradation("occlusion", 1.0, "eyes+nose", option=0),
)
