"""Deletion and insertion curves: does the map rank pixels the way the model uses them?

Deletion replaces pixels, most salient first, by a blurred copy of the crop (blur rather
than black keeps the image face-like, so the score falls because information goes, not
because the input leaves the training distribution); insertion reveals them on the blurred
copy. Every curve of a face (the map's and both baselines') is scaled by one affine map to
[0, 1], from the lowest to the highest score seen on any of them: the areas of different
faces and targets are then comparable and bounded, lower deletion and higher insertion
mean a more faithful map, and nothing flips sign when blurring *raises* the score (an
impostor pair is often more similar blurred). Every curve of every map of a face is scored
in one batched call.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from facelens.explain.perturb import score_crops
from facelens.explain.result import Faithfulness
from facelens.explain.scores import Target

STEPS = 16
MIN_DELTA = 0.02  # below this spread of scores over all curves, the curves are noise


def substrate(crop: np.ndarray) -> np.ndarray:
    """The blurred crop that deleted pixels are taken from (sigma = size / 10)."""
    sigma = crop.shape[0] / 10
    return cv2.GaussianBlur(crop.astype(np.float32), (0, 0), sigma)


def random_map(size: int, seed: int = 0) -> np.ndarray:
    """A smooth random map (7×7 uniform noise, bicubic): a baseline with blob-shaped regions,
    harder to beat than per-pixel noise, whose scattered deletions barely hurt any model."""
    noise = np.random.default_rng(seed).random((7, 7)).astype(np.float32)
    return cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)


def centre_map(size: int) -> np.ndarray:
    """A Gaussian at the crop centre (sigma = size / 4): 'the middle of the face matters'."""
    axis = (np.arange(size, dtype=np.float32) - (size - 1) / 2) / (size / 4)
    return np.exp(-0.5 * (axis[None, :] ** 2 + axis[:, None] ** 2))


def step_masks(saliency: np.ndarray, steps: int, seed: int = 0) -> np.ndarray:
    """(steps - 1, S, S) bool: the pixels taken at steps 1..steps-1, most salient first.

    Ties (flat zero regions of a ReLU'd map) are broken at random, not in raster order.
    """
    flat = saliency.ravel()
    tie_break = np.random.default_rng(seed).random(flat.size)
    order = np.lexsort((tie_break, -flat))
    rank = np.empty(flat.size, np.int64)
    rank[order] = np.arange(flat.size)
    counts = np.round(np.arange(1, steps) / steps * flat.size)
    return (rank[None, :] < counts[:, None]).reshape(steps - 1, *saliency.shape)


def curves(
    crop: np.ndarray,
    maps: dict[str, np.ndarray],
    target: Target,
    steps: int = STEPS,
    device: torch.device = torch.device("cpu"),
) -> tuple[dict[str, np.ndarray], float, float, float]:
    """Normalised deletion and insertion curves of each map, the original and blurred scores,
    and the spread of all scores (the normalising range)."""
    image = crop.astype(np.float32)
    blurred = substrate(image)
    batch = [image, blurred]
    for saliency in maps.values():
        masks = step_masks(saliency, steps)[..., None]
        batch += list(np.where(masks, blurred, image))  # deletion
        batch += list(np.where(masks, image, blurred))  # insertion
    scores = score_crops(np.stack(batch), target, device)
    original, base = float(scores[0]), float(scores[1])
    low, spread = float(scores.min()), float(scores.max() - scores.min())
    scale = max(spread, MIN_DELTA)
    result: dict[str, np.ndarray] = {}
    inner = steps - 1
    for n, name in enumerate(maps):
        start = 2 + 2 * n * inner
        deletion = np.concatenate([[original], scores[start : start + inner], [base]])
        insertion = np.concatenate([[base], scores[start + inner : start + 2 * inner], [original]])
        result[f"{name}_deletion"] = ((deletion - low) / scale).astype(np.float32)
        result[f"{name}_insertion"] = ((insertion - low) / scale).astype(np.float32)
    return result, original, base, spread


def auc(curve: np.ndarray) -> float:
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def evaluate(
    crop: np.ndarray,
    saliency: np.ndarray,
    target: Target,
    steps: int = STEPS,
    seed: int = 0,
    device: torch.device = torch.device("cpu"),
) -> Faithfulness:
    """Faithfulness of one map, with the random and centre baselines on the same face."""
    size = crop.shape[0]
    maps = {"map": saliency, "random": random_map(size, seed), "centre": centre_map(size)}
    found, original, base, spread = curves(crop, maps, target, steps, device)
    areas = {name: round(auc(curve), 4) for name, curve in found.items()}
    result = Faithfulness(
        steps=steps,
        score=round(original, 6),
        substrate_score=round(base, 6),
        deletion_auc=areas["map_deletion"],
        insertion_auc=areas["map_insertion"],
        random_deletion_auc=areas["random_deletion"],
        random_insertion_auc=areas["random_insertion"],
        centre_deletion_auc=areas["centre_deletion"],
        centre_insertion_auc=areas["centre_insertion"],
        deletion_vs_random=(
            round(areas["map_deletion"] / areas["random_deletion"], 4)
            if areas["random_deletion"] > 0.05
            else None
        ),
        reliable=spread >= MIN_DELTA,
    )
    result._curves = {name.replace("map_", ""): curve for name, curve in found.items()}
    return result
