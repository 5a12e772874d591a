"""Explanation targets: the scalar an explanation is about, for a batch of aligned crops.

Every target scores float crops (N×S×S×3, RGB 0..255) with ONNX Runtime in batches (the
perturbation methods and the faithfulness curves), and, when it can, with its torch twin
(gradient methods, and perturbation methods on a GPU), optionally capturing a named layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from facelens.detection.align import CropTemplate
from facelens.explain import targets
from facelens.explain.recogniser import BATCH, PartChip, nchw, recogniser
from facelens.recognition.names import DEFAULT_EMBEDDER


def _batched(crops: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if len(crops) == 0:
        return np.zeros(0, np.float32)
    return np.concatenate([fn(crops[i : i + BATCH]) for i in range(0, len(crops), BATCH)])


class Target(ABC):
    """A scalar output of a network on an aligned crop."""

    template: CropTemplate
    points: targets.Points = staticmethod(targets.five_landmarks)  # template's landmarks
    label: str
    layers: tuple[str, ...] = ()  # layers Grad-CAM may target (first = default)
    graphs = "its ONNX graph"  # where other capturable tensors come from (error messages)

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

    def capturable(self, device: torch.device) -> frozenset[str]:
        """Every layer name `torch_scores` can capture (by default the documented ones)."""
        return frozenset(self.layers)


class ClassTarget(Target):
    """The probability of one class of an attribute model: the default's
    (`targets.ATTRIBUTE_MODELS`) or `spec` (explain.attribute_models.attribute_spec)."""

    def __init__(
        self, attribute: str, class_index: int, spec: targets.ModelSpec | None = None
    ) -> None:
        self.spec = spec or targets.ATTRIBUTE_MODELS[attribute]
        self.template, self.points = self.spec.template, self.spec.points
        self.index = class_index
        self.label = f"{attribute}:{self.spec.labels[class_index]}"
        if spec is not None and spec != targets.ATTRIBUTE_MODELS[attribute]:
            # say which network was explained (and its share of a head's answer)
            self.label += f"{spec.share} ({Path(spec.file).name})"
        self.layers = (self.spec.layer,)

    def capturable(self, device: torch.device) -> frozenset[str]:
        return frozenset(targets.torch_model(self.spec.file, device).tensor_names)

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


class _EmbeddingTarget(Target):
    """A scalar of an embedder's unit embedding (see facelens.explain.recogniser).

    embedder: a name of `targets.EMBEDDINGS`; parts: the explained face's part chips (a
    fusion's, from its `AlignedFace`)."""

    def __init__(self, embedder: str, parts: tuple[PartChip, ...]) -> None:
        self.recogniser = recogniser(embedder)
        self.embedder, self.parts = embedder, parts
        spec = targets.EMBEDDINGS[embedder]
        self.template, self.points, self.layers = spec.template, spec.points, spec.layers
        if len(parts) != len(spec.parts):
            raise ValueError(f"the {embedder} embedder needs {len(spec.parts)} part chips")

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return self.recogniser.embed(crops, self.parts)

    def capturable(self, device: torch.device) -> frozenset[str]:
        from facelens.models.torch_onnx import OnnxTorch

        if len(self.recogniser.networks) > 1:
            return frozenset()  # a fusion has no single layer (each network's own is used)
        net = targets.embedding_net(self.recogniser.networks[0], device)
        # an ONNX twin captures any tensor of its graph; a module (dlib) its documented levels
        return frozenset(net.tensor_names) if isinstance(net, OnnxTorch) else frozenset(self.layers)

    def torch_embed(
        self, x: torch.Tensor, layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Unit embeddings and (a single network only) the named layer's output."""
        return self.recogniser.torch_embed(x, self.parts, layer)

    @abstractmethod
    def part_targets(self) -> list[tuple[float, PartChip, _EmbeddingTarget]]:
        """For a fusion: (share of this score, part chip, the same target on that network
        alone) for each network whose output the score reads."""


class SimilarityTarget(_EmbeddingTarget):
    """Cosine similarity to a reference face's embedding (the verification score).

    reference_crop: that face's aligned crop, when known (CorrRISE can then fill masked
    regions towards it)."""

    def __init__(
        self,
        reference: np.ndarray,
        label: str = "similarity",
        reference_crop: np.ndarray | None = None,
        embedder: str = DEFAULT_EMBEDDER,
        parts: tuple[PartChip, ...] = (),
    ) -> None:
        super().__init__(embedder, parts)
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

    def part_targets(self) -> list[tuple[float, PartChip, _EmbeddingTarget]]:
        # fused cosine = Σ_i share_i · cos(e_i, r_i), r_i the reference's unit part i
        r = self.recogniser
        return [
            (float(share), part, SimilarityTarget(self.reference[span] / weight, embedder=name))
            for name, weight, share, span, part in zip(
                r.networks, r.weights, r.shares, r.slices, self.parts, strict=True
            )
        ]


class ComponentTarget(_EmbeddingTarget):
    """One normalised embedding component, sign-flipped so that the score is positive."""

    def __init__(
        self,
        component: int,
        sign: float,
        embedder: str = DEFAULT_EMBEDDER,
        parts: tuple[PartChip, ...] = (),
    ) -> None:
        super().__init__(embedder, parts)
        self.component, self.sign = component, float(np.sign(sign) or 1.0)
        self.label = f"embedding[{component}]"

    def scores(self, crops: np.ndarray) -> np.ndarray:
        return self.sign * self.embed(crops)[:, self.component]

    def torch_scores(
        self, x: torch.Tensor, layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        embedding, activation = self.torch_embed(x, layer)
        return self.sign * embedding[:, self.component], activation

    def part_targets(self) -> list[tuple[float, PartChip, _EmbeddingTarget]]:
        # the component is w_i times one component of the one network that holds it
        r = self.recogniser
        return [
            (float(weight), part, ComponentTarget(self.component - span.start, self.sign, name))
            for name, weight, span, part in zip(
                r.networks, r.weights, r.slices, self.parts, strict=True
            )
            if span.start <= self.component < span.stop
        ]


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
