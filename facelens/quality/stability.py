"""Embedding stability, in the spirit of SER-FIQ (Terhörst et al., CVPR 2020).

SER-FIQ measures how much a face's embedding moves across random sub-networks (dropout);
a network without dropout can be probed the same way through its input instead: a face the
network "understands" keeps its embedding under changes that do not alter identity (mirror,
sub-pixel shift, small zoom, sensor noise). Works on top of any embedder, no retraining.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from facelens.recognition.base import normalise

# Perturbations of the aligned chip; index 0 is the chip itself.
PERTURBATIONS = ("identity", "flip", "shift", "scale", "noise", "composite")
NOISE_SIGMA = 4.0  # grey levels
SHIFT = 0.5  # pixels, both axes
SCALE = 1.05


def _affine(chip: np.ndarray, zoom: float, shift: float) -> np.ndarray:
    size = chip.shape[1]
    centre = (size - 1) / 2
    matrix = np.array(
        [[zoom, 0, centre * (1 - zoom) + shift], [0, zoom, centre * (1 - zoom) + shift]]
    )
    return cv2.warpAffine(
        chip, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


@cache
def _noise(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).normal(0.0, NOISE_SIGMA, shape).astype(np.float32)


def perturb(chips: np.ndarray, which: tuple[str, ...] = PERTURBATIONS) -> np.ndarray:
    """(N, S, S, 3) chips → (N·len(which), S, S, 3), perturbation-major order.

    The noise is seeded, so the same chip always gets the same measure.
    """
    noise = _noise(chips.shape[1:])
    out = []
    for name in which:
        if name == "identity":
            out.append(chips)
        elif name == "flip":
            out.append(chips[:, :, ::-1])
        elif name == "shift":
            out.append(np.stack([_affine(c, 1.0, SHIFT) for c in chips]))
        elif name == "scale":
            out.append(np.stack([_affine(c, SCALE, 0.0) for c in chips]))
        elif name == "noise":
            out.append(np.clip(chips + noise, 0, 255).astype(np.uint8))
        elif name == "composite":  # all four at once: one extra network input per face
            moved = np.stack([_affine(c[:, ::-1], SCALE, SHIFT) for c in chips])
            out.append(np.clip(moved + noise, 0, 255).astype(np.uint8))
        else:
            raise ValueError(f"unknown perturbation {name!r}")
    return np.concatenate(out)


def run_embedder(embedder: object, chips: np.ndarray) -> np.ndarray:
    """Raw L2-normalised embeddings of uint8 chips in one network call."""
    if len(chips) == 0:
        return np.zeros((0, 128), np.float32)
    batch = chips.transpose(0, 3, 1, 2).astype(np.float32)
    return normalise(embedder.run(batch)[0])  # type: ignore[attr-defined]


def stability(embeddings: np.ndarray) -> np.ndarray:
    """(P, N, D) embeddings of P perturbations (0 = unperturbed) → (N,) mean cosine of each
    perturbed embedding to the unperturbed one: 1 = perfectly stable."""
    return np.einsum("pnd,nd->pn", embeddings[1:], embeddings[0]).mean(axis=0)
