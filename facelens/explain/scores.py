"""Explanation targets: the scalar an explanation is about, for a batch of aligned crops.

Every target scores float crops (N×S×S×3, RGB 0..255) with ONNX Runtime in batches (the
perturbation methods and the faithfulness curves), and, when it can, with its torch twin
(gradient methods, and perturbation methods on a GPU), optionally capturing a named layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch

from facelens.detection.align import CropTemplate
from facelens.explain import targets
from facelens.recognition.base import normalise
from facelens.recognition.dlib import DlibEmbedder

BATCH = 64  # ONNX Runtime's CPU throughput levels off here (see explain_bench)


def _batched(crops: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if len(crops) == 0:
        return np.zeros(0, np.float32)
    return np.concatenate([fn(crops[i : i + BATCH]) for i in range(0, len(crops), BATCH)])


def nchw(crops: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """N×S×S×3 crops -> N×3×S×S float32 tensor on `device`."""
    x = torch.as_tensor(np.asarray(crops) if not isinstance(crops, torch.Tensor) else crops)
    return x.to(device=device, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()


class Target(ABC):
    """A scalar output of a network on an aligned crop."""

    template: CropTemplate
    points: targets.Points = staticmethod(targets.five_landmarks)  # template's landmarks
    label: str
    layers: tuple[str, ...] = ()  # layers Grad-CAM may target (first = default)

    @abstractmethod
    def scores(self, crops: np.ndarray) -> np.ndarray:
        """(N,) float32 scores of N×S×S×3 crops (ONNX Runtime, batched)."""

    def torch_scores(
        self, x: torch.Tensor, layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Differentiable (N,) scores of N×3×S×S crops, and the named layer's activation."""
        raise NotImplementedError(f"{self.label} has no differentiable twin")

    @property
    def differentiable(self) -> bool:
        return type(self).torch_scores is not Target.torch_scores


class ClassTarget(Target):
    """The probability of one class of an attribute model (see `targets.ATTRIBUTE_MODELS`)."""

    def __init__(self, attribute: str, class_index: int) -> None:
        self.spec = targets.ATTRIBUTE_MODELS[attribute]
        self.template, self.points = self.spec.template, self.spec.points
        self.index = class_index
        self.label = f"{attribute}:{self.spec.labels[class_index]}"
        self.layers = (self.spec.layer,)

    def scores(self, crops: np.ndarray) -> np.ndarray:
        session = targets.onnx_model(self.spec.file)
        position = session.output_names.index(self.spec.output)

        def run(chunk: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                batch = self.spec.preprocess(nchw(chunk)).numpy()
            return session.run(batch)[position][:, self.index]

        return _batched(crops, run).astype(np.float32)

    def torch_scores(
        self, x: torch.Tensor, layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        model = targets.torch_model(self.spec.file, x.device)
        names = [layer] if layer else []
        outputs, captured = model.run([self.spec.preprocess(x)], capture=names)
        probabilities = outputs[model.output_names.index(self.spec.output)]
        return probabilities[:, self.index], captured.get(layer) if layer else None


def embed_crops(crops: np.ndarray) -> np.ndarray:
    """L2-normalised embeddings of float N×150×150×3 crops (ONNX Runtime, batched)."""
    session = targets.onnx_model(DlibEmbedder.file_name)

    def run(chunk: np.ndarray) -> np.ndarray:
        return session.run(np.ascontiguousarray(chunk.transpose(0, 3, 1, 2), np.float32))[0]

    flat = _batched(crops, lambda c: run(c).ravel())
    return normalise(flat.reshape(-1, 128).astype(np.float32))


class _EmbeddingTarget(Target):
    template = targets.EMBEDDING_TEMPLATE
    points = staticmethod(targets.EMBEDDING_POINTS)
    layers = targets.EMBEDDING_LAYERS

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return embed_crops(crops)

    def torch_embed(
        self, x: torch.Tensor, layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normalised embeddings and (optionally) a DlibResNet submodule's output."""
        net = targets.embedding_net(x.device)
        captured: list[torch.Tensor] = []
        hook = (
            getattr(net, layer).register_forward_hook(lambda m, i, o: captured.append(o))
            if layer
            else None
        )
        try:
            raw = net(x)
        finally:
            if hook is not None:
                hook.remove()
        return torch.nn.functional.normalize(raw, dim=1), captured[0] if captured else None


class SimilarityTarget(_EmbeddingTarget):
    """Cosine similarity to a reference face's embedding (the verification score).

    reference_crop: that face's aligned crop, when known (CorrRISE can then fill masked
    regions towards it)."""

    def __init__(
        self,
        reference: np.ndarray,
        label: str = "similarity",
        reference_crop: np.ndarray | None = None,
    ) -> None:
        self.reference = np.asarray(reference, np.float32).ravel()
        self.label = label
        self.reference_crop = reference_crop

    def scores(self, crops: np.ndarray) -> np.ndarray:
        return self.embed(crops) @ self.reference

    def torch_scores(
        self, x: torch.Tensor, layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        embedding, activation = self.torch_embed(x, layer)
        reference = torch.as_tensor(self.reference, device=x.device)
        return embedding @ reference, activation


class ComponentTarget(_EmbeddingTarget):
    """One normalised embedding component, sign-flipped so that the score is positive."""

    def __init__(self, component: int, sign: float) -> None:
        self.component, self.sign = component, float(np.sign(sign) or 1.0)
        self.label = f"embedding[{component}]"

    def scores(self, crops: np.ndarray) -> np.ndarray:
        return self.sign * self.embed(crops)[:, self.component]

    def torch_scores(
        self, x: torch.Tensor, layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        embedding, activation = self.torch_embed(x, layer)
        return self.sign * embedding[:, self.component], activation


class FunctionTarget(Target):
    """Any scalar function of a batch of crops (e.g. a quality score); black-box only."""

    def __init__(
        self,
        template: CropTemplate,
        fn: Callable[[np.ndarray], np.ndarray],
        label: str,
        points: targets.Points = targets.five_landmarks,
    ) -> None:
        self.template, self.fn, self.label, self.points = template, fn, label, points

    def scores(self, crops: np.ndarray) -> np.ndarray:
        return np.asarray(_batched(crops, self.fn), np.float32)
