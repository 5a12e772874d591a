"""Which model predicts each attribute: a shipped one by name, or a user's ONNX file.

    FaceLens(attribute_models={"gender": "my-gender.onnx", "age": "faceapi"})

age, gender: "faceapi-utk" (face-api's AgeGenderNet fine-tuned here on UTKFace's training
faces: the default for gender), "faceapi" (face-api's own weights), "head" (a head on the
fused embedding, blended with "faceapi"), or the path of a head made by `facelens train
age|gender` or of a crop network made by `facelens train crop`; age also "dlib-head" (the
default: a head on the dlib embedding that quality's stability measure computes anyway,
blended with "faceapi-utk").
expression: "mini-xception" (the shipped FER2013 network), "faceapi-fer" (a head trained here
on face-api's expression features, `facelens train expression --network faceapi`), or the path
of a network made by `facelens train expression`, or several of these joined by "+" (an
ensemble: their calibrated probabilities averaged, e.g. "mini-xception+my-expression.onnx");
the default is the ensemble "mini-xception+faceapi-fer".
Each file loads once per process.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

from facelens.attributes.age_gender import CROP_TARGET, FINE_TUNED_FILE, FaceApiAgeGender
from facelens.attributes.embedding_head import CROP_NETWORKS, EmbeddingHead
from facelens.attributes.expression_net import TrainedExpression
from facelens.errors import ErrorCode, FaceLensError
from facelens.io import path_kind
from facelens.models.onnx_model import shared

CROP_NETWORK, FINE_TUNED_CROP = CROP_NETWORKS
SHIPPED_HEAD = "head"
DLIB_HEAD = "dlib-head"
MINI_XCEPTION = "mini-xception"
FACEAPI_FER = "faceapi-fer"
BUILT_IN = {
    "age": (CROP_NETWORK, FINE_TUNED_CROP, SHIPPED_HEAD, DLIB_HEAD),
    "gender": (CROP_NETWORK, FINE_TUNED_CROP, SHIPPED_HEAD),
    "expression": (MINI_XCEPTION, FACEAPI_FER),
}
# shipped expression networks made by `facelens train expression`, by name
SHIPPED_EXPRESSION = {FACEAPI_FER: "faceapi-expression-fer.onnx"}
# shipped head name -> attribute -> file
SHIPPED_HEADS = {
    SHIPPED_HEAD: {"age": "age-head.onnx", "gender": "gender-head.onnx"},
    DLIB_HEAD: {"age": "age-head-dlib.onnx"},  # its gender twin measured no better (README)
}
CROP_FILES = {CROP_NETWORK: FaceApiAgeGender.file_name, FINE_TUNED_CROP: FINE_TUNED_FILE}

ModelSpec = str | Path
ENSEMBLE = "+"


@dataclass(frozen=True)
class AttributeChoice:
    """One model per attribute: a BUILT_IN name or a Path to a trained model."""

    # on utkface-dev (README, Attributes): age MAE 4.51 with the dlib head blended with the
    # fine-tuned crop network, against 4.60 for the fine-tune alone and 4.82 for face-api's
    # own weights; gender: the fine-tune, 94.80% vs 94.77% with calibration error 0.8% vs 2.9%
    # (the dlib head's blend: 94.90%, 0.9%, children 0-12 79.4% against 80.4%)
    age: ModelSpec = DLIB_HEAD
    gender: ModelSpec = FINE_TUNED_CROP
    # on fer2013-dev: 68.30% for mini-Xception averaged with the head trained here on
    # face-api's features, against 65.75% (mini-Xception) and 64.45% (faceapi-fer) alone
    expression: ModelSpec = f"{MINI_XCEPTION}{ENSEMBLE}{FACEAPI_FER}"


DEFAULT_CHOICE = AttributeChoice()
# the crop network behind each shipped head (its blend partner, also in its metadata) and so
# behind each default: what the age and gender explanations explain
HEAD_CROPS = {SHIPPED_HEAD: CROP_NETWORK, DLIB_HEAD: FINE_TUNED_CROP}
DEFAULT_CROPS = {
    kind: HEAD_CROPS.get(str(spec), str(spec))
    for kind, spec in (("age", DEFAULT_CHOICE.age), ("gender", DEFAULT_CHOICE.gender))
}


def choose(models: Mapping[str, ModelSpec] | AttributeChoice | None) -> AttributeChoice:
    """Defaults replaced by `models` (attribute -> name or .onnx path), each checked."""
    if models is None:
        return DEFAULT_CHOICE
    if isinstance(models, AttributeChoice):
        return models
    if not isinstance(models, Mapping):
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            "attribute models are a mapping such as {'age': 'faceapi'}, "
            f"got {type(models).__name__}",
        )
    unknown = set(models) - set(BUILT_IN)
    if unknown:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"no attribute {sorted(unknown)}; attribute models are for {list(BUILT_IN)}",
        )
    chosen = {kind: _checked(kind, spec) for kind, spec in models.items()}
    return AttributeChoice(**{**DEFAULT_CHOICE.__dict__, **chosen})


def expression_members(spec: ModelSpec) -> list[ModelSpec]:
    """The models of an expression choice: itself, or the members of an "a+b" ensemble."""
    if isinstance(spec, Path) or spec in BUILT_IN["expression"]:
        return [spec]
    if path_kind(spec, ErrorCode.BAD_ARGUMENT) == "file":
        return [spec]
    return list(spec.split(ENSEMBLE))


def _checked(kind: str, spec: ModelSpec) -> ModelSpec:
    if not isinstance(spec, str | Path):
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"{kind} model must be a name or an .onnx path, got {type(spec).__name__}",
        )
    if kind == "expression" and len(members := expression_members(spec)) > 1:
        return ENSEMBLE.join(str(_checked(kind, member)) for member in members)
    if isinstance(spec, str) and spec in BUILT_IN[kind]:
        return spec
    path = Path(spec)
    if path.suffix != ".onnx" or path_kind(path, ErrorCode.BAD_ARGUMENT) != "file":
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"{kind} model {str(spec)!r} is neither one of {list(BUILT_IN[kind])}"
            " nor an existing .onnx file made by `facelens train`",
        )
    if kind == "expression":
        load_expression(path.resolve())  # refuses a file that is not an expression network
        return path.resolve()
    if is_crop_file(path.resolve()):
        load_crop(path.resolve())  # refuses a file that is not a crop network
        return path.resolve()
    head = load_head(kind, path.resolve())
    if head.target != kind:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"{path} is a head for {head.target}, not {kind}"
        )
    return path.resolve()


Model = TypeVar("Model", EmbeddingHead, TrainedExpression, FaceApiAgeGender)
_loaded: dict[tuple[str, str], EmbeddingHead | TrainedExpression | FaceApiAgeGender] = {}
_lock = threading.Lock()


def is_crop(spec: ModelSpec) -> bool:
    """Whether an age/gender choice is a crop network (not an embedding head)."""
    if spec in (CROP_NETWORK, FINE_TUNED_CROP):
        return True
    return spec not in SHIPPED_HEADS and is_crop_file(Path(spec))


@functools.lru_cache(maxsize=64)
def is_crop_file(path: Path) -> bool:
    import onnx  # reads the metadata only; the session is made by load_crop

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not an ONNX file: the loader that comes next says so
        return False
    return any(p.key == "facelens.target" and p.value == CROP_TARGET for p in model.metadata_props)


def _load_once(kind: str, source: str | Path, model_class: type[Model]) -> Model:
    """One instance per (kind, file) per process."""
    key = (kind, str(source))
    with _lock:
        if key not in _loaded:
            try:
                _loaded[key] = model_class(source)
            except FaceLensError:
                raise
            except Exception as error:  # ONNX Runtime cannot read it: say which file
                raise FaceLensError(
                    ErrorCode.BAD_ARGUMENT, f"{source} is not a readable ONNX model ({error})"
                ) from None
        model = _loaded[key]
    assert isinstance(model, model_class)
    return model


def load_crop(spec: ModelSpec) -> FaceApiAgeGender:
    """The process-wide crop network: face-api's, the shipped fine-tune, or a user's file."""
    if spec == CROP_NETWORK:
        return cast(FaceApiAgeGender, shared(FaceApiAgeGender))
    source: str | Path = CROP_FILES[spec] if spec == FINE_TUNED_CROP else Path(spec)
    return _load_once("crop", source, FaceApiAgeGender)


def load_head(kind: str, spec: ModelSpec) -> EmbeddingHead:
    """The process-wide EmbeddingHead of a path, or of a shipped head's name for `kind`."""
    source: str | Path = SHIPPED_HEADS[spec][kind] if spec in SHIPPED_HEADS else Path(spec)
    return _load_once("head", source, EmbeddingHead)


def load_expression(spec: ModelSpec) -> TrainedExpression:
    """The process-wide TrainedExpression of a path, or of a shipped one's name."""
    source = SHIPPED_EXPRESSION.get(spec, Path(spec)) if isinstance(spec, str) else spec
    return _load_once("expression", source, TrainedExpression)
