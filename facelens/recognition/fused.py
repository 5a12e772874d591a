"""Score-level fusion of two embedders as one vector: [a, w·b] renormalised.

With a and b unit vectors, the fused vector's cosine is (cos_a + w²·cos_b) / (1 + w²): a
weighted mean of the two similarities, so one vector still serves a gallery's ANN search.
"""

from __future__ import annotations

import numpy as np

from facelens.recognition.base import Embedder, normalise


def fuse(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """(N, D1) and (N, D2) unit vectors → (N, D1 + D2) unit vectors [first, weight·second]."""
    return normalise(np.concatenate([first, weight * second], axis=1))


class FusedEmbedder(Embedder):
    """Two embedders run on the same faces, their unit vectors fused (see `fuse`)."""

    name = "fused"

    def __init__(self, first: Embedder, second: Embedder, weight: float) -> None:
        self.parts = (first, second)
        self.weight = weight
        self.dimension = first.dimension + second.dimension
        self.version = f"{first.name}:{first.version}+{weight:g}*{second.name}:{second.version}"

    def embed_faces(
        self, rgb: np.ndarray, points: np.ndarray, mesh: np.ndarray, flip: bool = False
    ) -> np.ndarray:
        first, second = (part.embed_faces(rgb, points, mesh, flip) for part in self.parts)
        return fuse(first, second, self.weight)

    def embed_plain_and_flip(
        self, rgb: np.ndarray, points: np.ndarray, mesh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        (first, first_flip), (second, second_flip) = (
            part.embed_plain_and_flip(rgb, points, mesh) for part in self.parts
        )
        return fuse(first, second, self.weight), fuse(first_flip, second_flip, self.weight)

    def warm_up(self) -> None:
        for part in self.parts:
            part.warm_up()
