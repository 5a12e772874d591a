"""The recognition family's shared base: what FaceLens needs from any face embedder.

An `Embedder` turns the faces found in an image (their five landmarks and face mesh) into
L2-normalised vectors whose dot product is the similarity. A `NetworkEmbedder` is one
network over `OnnxModel`: its crop template, the five points that template is defined on,
its preprocessing and its torch twin (for the gradients explanations need). Composite
embedders (facelens.recognition.fused) combine networks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from facelens.detection.align import CropTemplate, align_faces
from facelens.models.onnx_model import OnnxModel


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class Embedder(ABC):
    """Faces in, (N, dimension) unit vectors out."""

    name: str = ""
    version: str = ""
    dimension: int = 0

    @abstractmethod
    def embed_faces(
        self, rgb: np.ndarray, points: np.ndarray, mesh: np.ndarray, flip: bool = False
    ) -> np.ndarray:
        """Embeddings of the faces of an RGB image given by their five landmarks (N, 5, 2;
        LANDMARK_NAMES order) and face meshes (N, 468, 3); with `flip`, each fused with its
        mirror image."""

    def embed_plain_and_flip(
        self, rgb: np.ndarray, points: np.ndarray, mesh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """What embed_faces gives with flip=False and with flip=True (here: two calls)."""
        return (
            self.embed_faces(rgb, points, mesh, False),
            self.embed_faces(rgb, points, mesh, True),
        )

    @abstractmethod
    def warm_up(self) -> None:
        """Run once on a blank input, so the first real call is as fast as the rest."""


class NetworkEmbedder(OnnxModel, Embedder):
    """One recognition network: aligned size×size RGB uint8 chips in, embeddings out."""

    template: CropTemplate

    @abstractmethod
    def landmarks(self, points: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        """(N, 5, 2) image points matching `template.points`, from the pipeline's five
        landmarks and face mesh."""

    def preprocess(self, chips: np.ndarray) -> np.ndarray:
        """N×S×S×3 RGB uint8 → the network's input (default: N×3×S×S float RGB 0..255)."""
        return chips.transpose(0, 3, 1, 2).astype(np.float32)

    @classmethod
    def torch_twin(cls, device: str | torch.device = "cpu") -> torch.nn.Module:
        """The same network in torch (N×3×S×S RGB 0..255 float in, raw embedding out), for
        gradients; parameters frozen."""
        raise NotImplementedError(f"{cls.__name__} has no torch twin")

    def raw(self, chips: np.ndarray, flip: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Unnormalised outputs of the chips and, with `flip`, of their mirror images (both
        in one network call)."""
        batch = self.preprocess(chips)
        if flip:
            batch = np.concatenate([batch, batch[:, :, :, ::-1]])
        out = self.run(batch)[0]
        return (out[: len(chips)], out[len(chips) :]) if flip else (out, None)

    def embed(self, chips: np.ndarray, flip: bool = False) -> np.ndarray:
        """L2-normalised embeddings of aligned chips; with `flip`, the sum of each chip's and
        its mirror image's outputs, normalised."""
        if len(chips) == 0:
            return np.zeros((0, self.dimension), np.float32)
        plain, mirrored = self.raw(chips, flip)
        return normalise(plain if mirrored is None else plain + mirrored)

    def chips(self, rgb: np.ndarray, points: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        """The aligned chips this network embeds."""
        return align_faces(rgb, self.landmarks(points, mesh), self.template)[0]

    def embed_faces(
        self, rgb: np.ndarray, points: np.ndarray, mesh: np.ndarray, flip: bool = False
    ) -> np.ndarray:
        return self.embed(self.chips(rgb, points, mesh), flip)

    def embed_plain_and_flip(
        self, rgb: np.ndarray, points: np.ndarray, mesh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Both variants from one network call on the chips and their mirror images."""
        plain, mirrored = self.raw(self.chips(rgb, points, mesh), flip=True)
        assert mirrored is not None
        return normalise(plain), normalise(plain + mirrored)

    def warm_up(self) -> None:
        size = self.template.size
        self.embed(np.full((1, size, size, 3), 128, np.uint8))
