"""The recogniser an embedding explanation is about: any embedder of `targets.EMBEDDINGS`.

A network explained alone works on its own chip: the explained crop is the chip. The fused
embedder is a composition. Its explained crop is the fused frame, and each network is fed
its own chip, cut from the photo exactly as FaceLens cuts it, plus whatever changed in the
frame warped into that chip: chip(crop) = chip − warp(frame) + warp(crop). The warp is
linear, so the unchanged frame scores exactly as FaceLens scores the photo, perturbations
reach each network where they fall on the face, and gradients flow back through the warp.
With unit parts e_i and fusion weights w_i the fused cosine is Σ w_i² cos_i / Σ w_i²
(`shares`), so every gradient map of the fused score is the share-weighted sum of each
network's map warped back into the frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from facelens.detection.align import align_faces, estimate_transform
from facelens.explain import targets
from facelens.recognition.base import normalise

BATCH = 64  # ONNX Runtime's CPU throughput levels off here (see explain_bench)


def nchw(crops: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """N×S×S×3 crops -> N×3×S×S float32 tensor on `device`."""
    x = torch.as_tensor(np.asarray(crops) if not isinstance(crops, torch.Tensor) else crops)
    return x.to(device=device, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()


def warp(x: torch.Tensor, matrix: np.ndarray, size: int) -> torch.Tensor:
    """N×C×H×W images through a 2×3 affine (source pixels -> size×size target pixels), as
    cv2.warpAffine does it (bilinear, pixel centres at integers, 0 outside); differentiable."""
    inverse = torch.as_tensor(cv2.invertAffineTransform(matrix), dtype=x.dtype, device=x.device)
    axis = torch.arange(size, dtype=x.dtype, device=x.device)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ inverse.T  # target -> source px
    height, width = x.shape[2:]
    grid = (2 * grid + 1) / torch.tensor([width, height], dtype=x.dtype, device=x.device) - 1
    grid = grid.expand(len(x), size, size, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def warp_back(chip_map: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """A map on a part's chip, in the frame (the inverse of `matrix`, frame -> chip)."""
    return cv2.warpAffine(
        chip_map.astype(np.float32),
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )


@dataclass(frozen=True)
class PartChip:
    """One network of a fused frame: its chip as FaceLens cuts it, and where it lies."""

    network: str
    matrix: np.ndarray  # 2×3, frame pixels -> this network's chip pixels
    chip: np.ndarray  # S×S×3 uint8, cut from the photo
    rest: np.ndarray  # 3×S×S float32: chip − warp(frame), what the frame does not hold

    def chips(self, x: torch.Tensor) -> torch.Tensor:
        """This network's chips (N×3×S×S) for frames x (N×3×F×F)."""
        rest = torch.as_tensor(self.rest, device=x.device)
        return rest + warp(x, self.matrix, self.rest.shape[-1])

    def chip_of(self, crop: np.ndarray) -> np.ndarray:
        """The chip (S×S×3 float) for one frame crop."""
        with torch.no_grad():
            return self.chips(nchw(crop[None]))[0].permute(1, 2, 0).numpy()


def align_face(
    embedder: str, rgb: np.ndarray, five: np.ndarray, mesh: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, tuple[PartChip, ...]]:
    """The explained crop of one face, its transform (image -> crop) and, for a fusion, each
    network's chip."""
    spec = targets.EMBEDDINGS[embedder]
    crops, matrices = align_faces(rgb, spec.points(five, mesh)[None], spec.template)
    parts = []
    for network, _ in spec.parts:
        part = targets.EMBEDDINGS[network]
        to_chip = estimate_transform(part.points(five, mesh), part.template)
        matrix = _compose(to_chip, cv2.invertAffineTransform(matrices[0]))
        chip = align_faces(rgb, part.points(five, mesh)[None], part.template)[0][0]
        with torch.no_grad():
            framed = warp(nchw(crops[:1]), matrix, part.template.size)[0]
        rest = (nchw(chip[None])[0] - framed).numpy()
        parts.append(PartChip(network, matrix, chip, rest))
    return crops[0], matrices[0], tuple(parts)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2×3 affine of outer ∘ inner."""
    shift = np.zeros((2, 3))
    shift[:, 2] = outer[:, 2]
    return outer[:, :2] @ inner + shift


class Recogniser:
    """Explained crops -> unit embeddings of one embedder (ONNX Runtime, or its torch twins).

    `parts` are the face's `PartChip`s (a fusion's); a single network needs none."""

    def __init__(self, name: str) -> None:
        from facelens.recognition.registry import NETWORKS

        self.name, self.spec = name, targets.EMBEDDINGS[name]
        self.networks = tuple(n for n, _ in self.spec.parts) or (name,)
        weights = np.array([w for _, w in self.spec.parts] or [1.0], np.float32)
        self.weights = weights / np.linalg.norm(weights)  # of each unit part in the vector
        self.shares = self.weights**2  # of each part's cosine in the fused cosine
        ends = np.cumsum([0] + [NETWORKS[n].dimension for n in self.networks])
        self.slices = [slice(int(a), int(b)) for a, b in pairwise(ends)]
        self.files = [NETWORKS[n].file_name for n in self.networks]

    def _inputs(self, x: torch.Tensor, parts: tuple[PartChip, ...]) -> list[torch.Tensor]:
        if len(parts) != len(self.spec.parts):
            raise ValueError(f"the {self.name} embedder needs {len(self.spec.parts)} part chips")
        return [part.chips(x) for part in parts] if parts else [x]

    def embed(self, crops: np.ndarray, parts: tuple[PartChip, ...] = ()) -> np.ndarray:
        """(N, D) unit embeddings of N×S×S×3 float crops (ONNX Runtime, batched)."""
        chunks = []
        for start in range(0, len(crops), BATCH):
            with torch.no_grad():
                inputs = self._inputs(nchw(crops[start : start + BATCH]), parts)
            vectors = [
                normalise(targets.onnx_model(file).run(np.ascontiguousarray(x.numpy()))[0])
                for file, x in zip(self.files, inputs, strict=True)
            ]
            chunks.append(
                np.concatenate([w * v for w, v in zip(self.weights, vectors, strict=True)], 1)
            )
        if not chunks:
            return np.zeros((0, self.slices[-1].stop), np.float32)
        return np.concatenate(chunks).astype(np.float32)

    def torch_embed(
        self, x: torch.Tensor, parts: tuple[PartChip, ...] = (), layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Differentiable unit embeddings of N×3×S×S crops and (one network only) a named
        layer's activation."""
        if layer and len(self.networks) > 1:
            raise ValueError("a fused embedding has no single layer: explain each network's")
        vectors, activation = [], None
        for network, w, chips in zip(
            self.networks, self.weights, self._inputs(x, parts), strict=True
        ):
            raw, activation = _run(targets.embedding_net(network, x.device), chips, layer)
            vectors.append(float(w) * F.normalize(raw, dim=1))
        return torch.cat(vectors, 1), activation


def _run(
    net: torch.nn.Module, x: torch.Tensor, layer: str | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A twin's raw output and a named layer: an ONNX tensor (OnnxTorch) or a submodule."""
    from facelens.models.torch_onnx import OnnxTorch

    if isinstance(net, OnnxTorch):
        outputs, captured = net.run([x], capture=[layer] if layer else [])
        return outputs[0], captured.get(layer) if layer else None
    captured: list[torch.Tensor] = []
    hook = None
    if layer:
        # A hook sees every thread's forward through this shared twin: keep only our own
        # (the REST server explains in worker threads; another request's activation is not
        # in this graph, and would be another face's map).
        caller = threading.get_ident()

        def keep(module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
            if threading.get_ident() == caller:
                captured.append(output)

        hook = getattr(net, layer).register_forward_hook(keep)
    try:
        raw = net(x)
    finally:
        if hook is not None:
            hook.remove()
    return raw, captured[0] if captured else None


@cache
def recogniser(name: str) -> Recogniser:
    return Recogniser(name)
