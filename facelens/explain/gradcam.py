"""Grad-CAM and Grad-CAM++ on a named layer, for attribute classes and the embedding."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from facelens.errors import ErrorCode, FaceLensError
from facelens.explain.base import AlignedFace, Explainer
from facelens.explain.recogniser import warp_back
from facelens.explain.scores import ComponentTarget, SimilarityTarget, Target, _EmbeddingTarget
from facelens.recognition.names import DEFAULT_EMBEDDER


def documented_layers(target: Target, device: torch.device) -> str:
    """The layers the docs name for `target` (targets.py), for an error message."""
    if not target.layers:
        return f"{target.label} has no layer to choose"
    names = ", ".join(repr(name) for name in target.layers)
    default = "the default" if len(target.layers) == 1 else "the first is the default"
    others = len(target.capturable(device) - set(target.layers))
    also = f", or any of the {others} other tensors of {target.graphs}" if others else ""
    return f"the layers of {target.label}: {names} ({default}){also}"


def check_layer(target: Target, layer: str, device: torch.device) -> None:
    """`bad_argument` naming the layers there are when `target` cannot capture `layer`."""
    if layer not in target.capturable(device):
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"no layer {layer!r} to explain; {documented_layers(target, device)}",
        )


class GradCAM(Explainer):
    """relu(Σ_k w_k A_k) with w_k the spatial mean of d score / d A_k (Selvaraju et al.).

    layer: the target layer's name (an ONNX tensor name for attribute models, a DlibResNet
    submodule for the embedding); None takes the target's documented default.
    """

    method = "gradcam"

    def __init__(
        self,
        layer: str | None = None,
        device: str | torch.device = "cpu",
        faithfulness: bool = True,
    ) -> None:
        super().__init__(device, faithfulness)
        self.requested_layer = layer

    def weights(self, grads: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        return grads.mean(dim=(2, 3), keepdim=True)

    def gradients(self, crop: np.ndarray, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
        """The target layer's activation and the score's gradient with respect to it."""
        self.layer = self.requested_layer or target.layers[0]
        check_layer(target, self.layer, self.device)
        # The input asks for gradients only so that autograd records the graph (the weights
        # are buffers); just the path from the score down to the layer is back-propagated.
        x = self.crop_tensor(crop[None]).requires_grad_(True)
        score, activation = target.torch_scores(x, self.layer)
        assert activation is not None
        if activation.dim() != 4:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"layer {self.layer!r} is not a feature map (its shape is "
                f"{tuple(activation.shape)}); {documented_layers(target, x.device)}",
            )
        (grads,) = torch.autograd.grad(score.sum(), activation)
        return activation.detach(), grads

    def compute(self, crop: np.ndarray, target: Target) -> np.ndarray:
        acts, grads = self.gradients(crop, target)
        cam = F.relu((self.weights(grads, acts) * acts).sum(dim=1, keepdim=True))
        size = crop.shape[0]
        cam = F.interpolate(cam, size=(size, size), mode="bilinear", align_corners=False)
        return cam[0, 0].cpu().numpy()


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ (Chattopadhay et al.): pixel-weighted positive gradients, which spreads
    credit over several instances of a feature instead of the strongest one."""

    method = "gradcam++"

    def weights(self, grads: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        # Closed form for an exponential score: alpha = g² / (2g² + Σ_ab A · g³).
        g2, g3 = grads.pow(2), grads.pow(3)
        denominator = 2 * g2 + acts.sum(dim=(2, 3), keepdim=True) * g3
        alpha = g2 / torch.where(denominator != 0, denominator, torch.ones_like(denominator))
        return (alpha * F.relu(grads)).sum(dim=(2, 3), keepdim=True)


class EmbeddingGradCAM(GradCAM):
    """Grad-CAM for the recognition network: target (a) the largest-magnitude embedding
    component or (b) the cosine similarity to a second face (the verification score).

    A fused embedder is explained at each network's own (default) layer: the fused score's
    Grad-CAM at network i's layer is share_i times that network's Grad-CAM of its own score
    (the gradients scale, ReLU keeps positive factors), so each network's map is computed on
    its own chip, warped back into the fused frame and added with its share."""

    method = "embedding-gradcam"

    @staticmethod
    def target_for(
        face: AlignedFace, embedding: np.ndarray, reference: np.ndarray | None = None
    ) -> Target:
        """(b) when a reference embedding is given, else (a) for this face's embedding."""
        embedder = face.embedder or DEFAULT_EMBEDDER
        if reference is not None:
            return SimilarityTarget(reference, embedder=embedder, parts=face.parts)
        component = int(np.argmax(np.abs(embedding)))
        return ComponentTarget(component, float(embedding[component]), embedder, face.parts)

    def compute(self, crop: np.ndarray, target: Target) -> np.ndarray:
        if not isinstance(target, _EmbeddingTarget):
            raise TypeError("EmbeddingGradCAM explains embedding targets only")
        if not target.parts:
            return super().compute(crop, target)
        if self.requested_layer:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"the {target.embedder} embedding is explained at each network's own layer; "
                "leave the layer unset",
            )
        size = crop.shape[0]
        total, layers = np.zeros((size, size), np.float32), []
        for share, part, part_target in target.part_targets():
            chip_map = super().compute(part.chip_of(crop), part_target)
            total += share * warp_back(chip_map, part.matrix, size)
            layers.append(f"{part.network}:{self.layer}")
        self.layer = "+".join(layers)
        return total
