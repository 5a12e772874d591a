"""Which attribute network an explanation is of: the default's, or a chosen model.

`model` is what `FaceLens(attribute_models=...)` takes for that attribute: a built-in name
or a file made by `facelens train`. A crop network (`facelens train crop`) or an expression
network (`facelens train expression`) is explained itself; a head on an embedding reads two
recognition networks on two crops, which no single-crop map describes, so it is explained
through the crop network it is blended with (its `facelens.crop_network`), and the result's
target says which share of the answer that network carries (`age:years, faceapi-utk at
weight 0.6 of dlib-head (faceapi-age-gender-utk.onnx)`); a head not blended with one
(weight 0, `facelens train --no-blend`) is refused, since that network's map would explain
nothing of the answer; an expression ensemble is explained as a whole
(explain.ensemble: its answer perturbed, Grad-CAM at each member's layer).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import onnx
import torch

from facelens.attributes.choice import (
    CROP_FILES,
    DEFAULT_CHOICE,
    ENSEMBLE,
    MINI_XCEPTION,
    SHIPPED_EXPRESSION,
    choose,
    expression_members,
    is_crop,
    load_expression,
    load_head,
)
from facelens.attributes.expression import LABELS, LUMA
from facelens.attributes.expression_choice import (
    ensemble_temperature,
    expression_probabilities,
    member_temperature,
)
from facelens.attributes.expression_net import FRAME_48
from facelens.errors import ErrorCode, FaceLensError
from facelens.explain.ensemble import EnsembleSpec
from facelens.explain.targets import ATTRIBUTE_MODELS, ModelSpec
from facelens.models.onnx_model import weight_path


def _grey_01(x: torch.Tensor) -> torch.Tensor:
    # N×3×S×S RGB 0..255 -> N×1×S×S grey (BT.601 luma) in 0..1: the trained network's input
    luma = torch.from_numpy(LUMA).to(x.device).view(1, 3, 1, 1)
    return (x * luma).sum(1, keepdim=True) / 255.0


@cache  # reads the whole graph: once per file, not once per explanation
def last_feature_map(path: Path) -> str:
    """The last convolutional block's activation (the input of the graph's last pooling):
    the Grad-CAM layer of a network made by `facelens train expression` (the small CNN's
    last MaxPool, 12² at 48 px; face-api's global average pool, 7² at 112 px)."""
    pools = [
        n
        for n in onnx.load(str(path)).graph.node
        if n.op_type in ("MaxPool", "GlobalAveragePool", "ReduceMean")
    ]
    if not pools:
        raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"{path} has no feature map to explain")
    return pools[-1].input[0]


def attribute_spec(attribute: str, model: str | Path | None = None) -> ModelSpec | EnsembleSpec:
    """The explained network (or expression ensemble) of `attribute` for `model`."""
    default = ATTRIBUTE_MODELS[attribute]
    if model is None:  # the default model, labelled as when named (REST names the served one)
        model = getattr(DEFAULT_CHOICE, attribute)
    chosen = getattr(choose({attribute: model}), attribute)  # checked: name or trained file
    if attribute == "expression":
        if isinstance(chosen, str) and ENSEMBLE in chosen:
            members = expression_members(chosen)
            return EnsembleSpec(
                name=chosen,
                members=tuple(_expression_spec(member) for member in members),
                member_temperatures=tuple(member_temperature(member) for member in members),
                temperature=ensemble_temperature(chosen),
            )
        return _expression_spec(chosen)
    if is_crop(chosen):
        return _crop_spec(default, chosen)
    return _head_spec(attribute, chosen, default)


def answered_expression(rgb: np.ndarray, five: np.ndarray, model: str | Path | None) -> str:
    """The class `analyze` answers for the face at `five` (5×2) with `model` (default: the
    default's), from all its views: a map computed on one view explains that class, not the
    one view's own top class, which can differ on an ambiguous face."""
    chosen = choose({"expression": DEFAULT_CHOICE.expression if model is None else model})
    probabilities = expression_probabilities(rgb, five[None], chosen.expression)
    return LABELS[int(np.argmax(probabilities[0]))]


def _expression_spec(chosen: str | Path) -> ModelSpec:
    """mini-Xception's spec, or that of a network made by `facelens train expression`."""
    if chosen == MINI_XCEPTION:
        return ATTRIBUTE_MODELS["expression"]
    shipped = SHIPPED_EXPRESSION.get(str(chosen))
    path = weight_path(shipped) if shipped else Path(chosen)
    session = load_expression(chosen).session  # the runtime's instance (one load per file)
    return ModelSpec(
        file=path,
        template=FRAME_48,
        preprocess=_grey_01,
        output=session.get_outputs()[0].name,
        labels=LABELS,
        layer=last_feature_map(path),
    )


def _crop_spec(default: ModelSpec, crop: str | Path) -> ModelSpec:
    """The default age/gender spec on the crop network `crop` (a built-in name or a file)."""
    return replace(default, file=CROP_FILES[crop] if crop in CROP_FILES else Path(crop))


def _head_spec(attribute: str, head_model: str | Path, default: ModelSpec) -> ModelSpec:
    """A head's blend partner, its target naming the share of the answer it carries (the
    head's own part reads the embedding, which no map here shows)."""
    head = load_head(attribute, head_model)
    name = Path(head_model).name if isinstance(head_model, Path) else str(head_model)
    weight = head.crop_weight
    if not 0 <= weight <= 1:  # also NaN: written by hand, not by `facelens train`
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"{name}'s crop weight {weight} is not between 0 and 1"
        )
    if weight == 0:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"{name} does not use a crop network (its crop weight is 0); a head reads two "
            "recognition networks on two crops, which no single-crop map describes: explain "
            "the embedding target, or a crop network",
        )
    share = f", {head.crop_network} at weight {round(weight, 3):g} of {name}"
    return replace(_crop_spec(default, head.crop_network), share=share)
