"""An expression ensemble ("a+b", attributes.expression_choice) as one explanation target.

The ensemble's answer is the mean of its members' calibrated probabilities, with the
ensemble's own temperature on that mean. Every member sees FER2013's framing (mini-Xception
at 64 px, a trained network at 48 px: the same five landmark positions, scaled), so one
64 px crop serves all of them: a member at another size gets the crop resized. The target's
score is the ensemble's probability of one class, so the perturbation methods (occlusion,
the faithfulness curves) explain what the ensemble answers. Grad-CAM takes the gradient of
that score at one layer of one member, named "member:tensor" (the default: mini-Xception's
documented layer when it is a member, else the first member's; summing every member's map
was measured less faithful, README "Explaining your own model").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from facelens.attributes.choice import ENSEMBLE, MINI_XCEPTION
from facelens.attributes.expression import FER_FRAME, LABELS
from facelens.errors import ErrorCode, FaceLensError
from facelens.explain import targets
from facelens.explain.recogniser import nchw
from facelens.explain.scores import Target, _batched


@dataclass(frozen=True)
class EnsembleSpec:
    """An expression ensemble as the explainers see it: its members' ModelSpecs, each with
    the temperature that calibrates it (1: already inside its graph), and the ensemble's."""

    name: str  # as chosen, e.g. "mini-xception+faceapi-fer"
    members: tuple[targets.ModelSpec, ...]
    member_temperatures: tuple[float, ...]
    temperature: float
    template = FER_FRAME
    points = staticmethod(targets.five_landmarks)
    labels = LABELS


def _calibrated(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """attributes.expression.calibrate on tensors, differentiable (Grad-CAM's path)."""
    if temperature == 1.0:
        return probabilities
    powered = probabilities.clamp_min(1e-12).pow(1.0 / temperature)
    return powered / powered.sum(dim=1, keepdim=True)


MINI_LAYER = f"{MINI_XCEPTION}:"


class EnsembleTarget(Target):
    """The ensemble's calibrated probability of one class (index in LABELS order)."""

    graphs = "its members' ONNX graphs (as member:tensor)"

    def __init__(self, spec: EnsembleSpec, class_index: int) -> None:
        self.spec, self.index = spec, class_index
        self.template, self.points = spec.template, spec.points
        self.label = f"expression:{LABELS[class_index]} ({spec.name})"
        self.names = tuple(spec.name.split(ENSEMBLE))
        layers = [f"{n}:{m.layer}" for n, m in zip(self.names, spec.members, strict=True)]
        # the default (first) is mini-Xception's when it is a member: its maps of the ensemble
        # were measured the more faithful (README); otherwise the first member's
        self.layers = tuple(sorted(layers, key=lambda layer: not layer.startswith(MINI_LAYER)))

    def capturable(self, device: torch.device) -> frozenset[str]:
        return frozenset(
            f"{name}:{tensor}"
            for name, member in zip(self.names, self.spec.members, strict=True)
            for tensor in targets.torch_model(member.file, device).tensor_names
        )

    def _member_input(self, member: targets.ModelSpec, x: torch.Tensor) -> torch.Tensor:
        size = member.template.size
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
        return member.preprocess(x)

    def _ensemble(self, member_probabilities: list[torch.Tensor]) -> torch.Tensor:
        """(N, 7) in LABELS order from each member's raw output probabilities."""
        calibrated = []
        for member, temperature, raw in zip(
            self.spec.members, self.spec.member_temperatures, member_probabilities, strict=True
        ):
            in_labels = raw[:, [member.labels.index(label) for label in LABELS]]
            calibrated.append(_calibrated(in_labels, temperature))
        return _calibrated(torch.stack(calibrated).mean(0), self.spec.temperature)

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(N, 7) ensemble probabilities of N×S×S×3 crops (ONNX Runtime)."""
        if len(crops) == 0:
            return np.zeros((0, len(LABELS)), np.float32)
        x, outputs = nchw(crops), []
        for member in self.spec.members:
            session = targets.onnx_model(member.file)
            with torch.no_grad():
                batch = self._member_input(member, x).numpy()
            outputs.append(
                torch.from_numpy(session.run(batch)[session.output_names.index(member.output)])
            )
        return self._ensemble(outputs).numpy()

    def scores(self, crops: np.ndarray) -> np.ndarray:
        return _batched(crops, lambda chunk: self.probabilities(chunk)[:, self.index])

    def torch_scores(
        self, x: torch.Tensor, layer: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Differentiable (N,) scores of N×3×S×S crops and, when asked, the activation of
        `layer` ("member:tensor", one member's)."""
        name, _, tensor = (layer or "").partition(":")
        outputs, activation = [], None
        for member_name, member in zip(self.names, self.spec.members, strict=True):
            model = targets.torch_model(member.file, x.device)
            names = [tensor] if layer and member_name == name else []
            result, captured = model.run([self._member_input(member, x)], capture=names)
            outputs.append(result[model.output_names.index(member.output)])
            activation = captured[tensor] if names else activation
        return self._ensemble(outputs)[:, self.index], activation


def ensemble_target(spec: EnsembleSpec, crop: np.ndarray, class_name: str | None) -> EnsembleTarget:
    """The asked-for class, or the class the ensemble answers for this crop."""
    if class_name is not None:
        if class_name not in LABELS:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"expression has no class {class_name!r}: {LABELS}"
            )
        return EnsembleTarget(spec, LABELS.index(class_name))
    probabilities = EnsembleTarget(spec, 0).probabilities(crop[None].astype(np.float32))[0]
    return EnsembleTarget(spec, int(np.argmax(probabilities)))
