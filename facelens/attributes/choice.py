"""Which model predicts each attribute: a shipped one by name, or a user's ONNX file.

    FaceLens(attribute_models={"gender": "my-gender.onnx", "age": "faceapi"})

age, gender: "faceapi" (face-api's AgeGenderNet on a crop), "head" (the embedding head that
ships with facelens), or the path of a head made by `facelens train age|gender`.
expression: "mini-xception" (the shipped FER2013 network), or the path of a network made by
`facelens train expression`.
Each file loads once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from facelens.attributes.embedding_head import EmbeddingHead
from facelens.attributes.expression_net import TrainedExpression
from facelens.errors import ErrorCode, FaceLensError

CROP_NETWORK = "faceapi"
SHIPPED_HEAD = "head"
BUILT_IN = {
    "age": (CROP_NETWORK, SHIPPED_HEAD),
    "gender": (CROP_NETWORK, SHIPPED_HEAD),
    "expression": ("mini-xception",),
}
SHIPPED_HEADS = {"age": "age-head.onnx", "gender": "gender-head.onnx"}

ModelSpec = str | Path


@dataclass(frozen=True)
class AttributeChoice:
    """One model per attribute: a BUILT_IN name or a Path to a trained head."""

    age: ModelSpec = CROP_NETWORK
    gender: ModelSpec = CROP_NETWORK
    expression: ModelSpec = "mini-xception"


DEFAULT_CHOICE = AttributeChoice()


def choose(models: Mapping[str, ModelSpec] | AttributeChoice | None) -> AttributeChoice:
    """Defaults replaced by `models` (attribute -> name or .onnx path), each checked."""
    if models is None:
        return DEFAULT_CHOICE
    if isinstance(models, AttributeChoice):
        return models
    unknown = set(models) - set(BUILT_IN)
    if unknown:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"no attribute {sorted(unknown)}; attribute models are for {list(BUILT_IN)}",
        )
    chosen = {kind: _checked(kind, spec) for kind, spec in models.items()}
    return AttributeChoice(**{**DEFAULT_CHOICE.__dict__, **chosen})


def _checked(kind: str, spec: ModelSpec) -> ModelSpec:
    if isinstance(spec, str) and spec in BUILT_IN[kind]:
        return spec
    path = Path(spec)
    if path.suffix != ".onnx" or not path.is_file():
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"{kind} model {str(spec)!r} is neither one of {list(BUILT_IN[kind])}"
            " nor an existing .onnx file made by `facelens train`",
        )
    if kind == "expression":
        load_expression(path.resolve())  # refuses a file that is not an expression network
        return path.resolve()
    head = load_head(kind, path.resolve())
    if head.target != kind:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"{path} is a head for {head.target}, not {kind}"
        )
    return path.resolve()


_loaded: dict[tuple[str, str], EmbeddingHead | TrainedExpression] = {}  # (kind, file)
_lock = threading.Lock()


def load_head(kind: str, spec: ModelSpec) -> EmbeddingHead:
    """The process-wide EmbeddingHead of a path, or of SHIPPED_HEAD for `kind`."""
    source: str | Path = SHIPPED_HEADS[kind] if spec == SHIPPED_HEAD else Path(spec)
    key = ("head", str(source))
    with _lock:
        if key not in _loaded:
            _loaded[key] = EmbeddingHead(source)
        head = _loaded[key]
    assert isinstance(head, EmbeddingHead)
    return head


def load_expression(path: ModelSpec) -> TrainedExpression:
    """The process-wide TrainedExpression of a path."""
    key = ("expression", str(path))
    with _lock:
        if key not in _loaded:
            _loaded[key] = TrainedExpression(Path(path))
        model = _loaded[key]
    assert isinstance(model, TrainedExpression)
    return model
