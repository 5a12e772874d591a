"""The Python entry points: detect with FaceLens, align to the target's crop, explain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from facelens.detection.align import CropTemplate, align_faces
from facelens.errors import ErrorCode, FaceLensError
from facelens.explain import targets
from facelens.explain.attribute_models import answered_expression, attribute_spec
from facelens.explain.base import AlignedFace, Explainer
from facelens.explain.corrrise import DEFAULT_FILL, DEFAULT_MASKS, CorrRISE, Fill
from facelens.explain.ensemble import EnsembleSpec, ensemble_target
from facelens.explain.gradcam import EmbeddingGradCAM, GradCAM, GradCAMPlusPlus
from facelens.explain.gradient_pair import GradientPair
from facelens.explain.occlusion import Occlusion
from facelens.explain.recogniser import align_face, recogniser
from facelens.explain.result import Explanation, PairExplanation
from facelens.explain.scores import ClassTarget, SimilarityTarget, Target, nchw
from facelens.explain.transplant import Transplant
from facelens.io import ImageInput, load_image
from facelens.lens import FaceLens
from facelens.recognition.names import DEFAULT_EMBEDDER
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT, threshold_for
from facelens.recognition.registry import check_embedder
from facelens.types import Face

TargetName = Literal["expression", "age", "gender", "embedding"]
PairMethod = Literal["corrrise", "gradient", "transplant"]
Device = str | torch.device


def locate(image: ImageInput, face: int = 0, as_verify: bool = False) -> tuple[np.ndarray, Face]:
    """The decoded RGB image and its `face`-th face (largest first), as `analyze` finds it;
    as_verify: the largest as `verify` finds it (FaceLens.detect's `largest`), so that its
    landmarks, hence its crop and similarity, are the ones verify compared."""
    rgb = load_image(image)
    faces = FaceLens().detect(rgb, largest=as_verify and face == 0).faces
    return rgb, choose_face(faces, face)


def choose_face(faces: list[Face], face: int) -> Face:
    """The `face`-th of the faces found (no_face, face_index when there is none)."""
    if not faces:
        raise FaceLensError(ErrorCode.NO_FACE, "no face was found in the image")
    if not 0 <= face < len(faces):
        raise FaceLensError(
            ErrorCode.FACE_INDEX, f"the image has {len(faces)} face(s); no face {face}"
        )
    return faces[face]


def align(
    rgb: np.ndarray,
    face: Face,
    template: CropTemplate,
    points: targets.Points = targets.five_landmarks,
) -> AlignedFace:
    """The face cut at `template`, from the landmarks `points` picks (as its model expects)."""
    landmarks = points(face.landmarks.to_array(), face.mesh)
    crops, matrices = align_faces(rgb, landmarks[None], template)
    return AlignedFace(crop=crops[0], image=rgb, matrix=matrices[0], box=face.box)


def align_embedding(rgb: np.ndarray, face: Face, embedder: str = DEFAULT_EMBEDDER) -> AlignedFace:
    """The embedder's explained crop (a network's chip, cut exactly as `FaceLens.embed` cuts
    it; a fusion's frame, with each network's chip)."""
    crop, matrix, parts = align_face(
        check_embedder(embedder), rgb, face.landmarks.to_array(), face.mesh
    )
    return AlignedFace(crop, rgb, matrix, face.box, embedder, parts)


def embedding_of(face: AlignedFace) -> np.ndarray:
    """The unit embedding of an aligned embedding crop, as its embedder computes it."""
    name = face.embedder or DEFAULT_EMBEDDER
    return recogniser(name).embed(face.crop[None].astype(np.float32), face.parts)[0]


def similarity_target(face: AlignedFace, other: AlignedFace) -> SimilarityTarget:
    """The verification score of `face` (its crop, perturbed or not) against `other`."""
    return SimilarityTarget(
        embedding_of(other),
        reference_crop=other.crop,
        embedder=face.embedder or DEFAULT_EMBEDDER,
        parts=face.parts,
    )


def class_target(
    attribute: str, crop: np.ndarray, class_name: str | None, spec: targets.ModelSpec | None = None
) -> ClassTarget:
    """The asked-for class, or the class the model (default: the attribute's default
    network) predicts for this crop."""
    spec = spec or targets.ATTRIBUTE_MODELS[attribute]
    if class_name is not None:
        if class_name not in spec.labels:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"{attribute} has no class {class_name!r}: {spec.labels}"
            )
        return ClassTarget(attribute, spec.labels.index(class_name), spec)
    session = targets.onnx_model(spec.file)
    with torch.no_grad():
        batch = spec.preprocess(nchw(crop[None])).numpy()
    probabilities = session.run(batch)[session.output_names.index(spec.output)][0]
    return ClassTarget(attribute, int(np.argmax(probabilities)), spec)


def _resolve(
    rgb: np.ndarray,
    face: Face,
    target: TargetName | Target,
    class_name: str | None,
    reference: ImageInput | None,
    embedder: str,
    model: str | Path | None = None,
) -> tuple[AlignedFace, Target]:
    if isinstance(target, Target):
        return align(rgb, face, target.template, target.points), target
    if model is not None and target == "embedding":
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            "model chooses an attribute's network; the embedding's network is the embedder",
        )
    if class_name is not None and target == "embedding":
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            "class_name chooses an attribute's class; the embedding has none (use reference)",
        )
    if target == "embedding":
        aligned = align_embedding(rgb, face, embedder)
        other = None
        if reference is not None:
            ref_rgb, ref_face = locate(reference, as_verify=True)
            other = embedding_of(align_embedding(ref_rgb, ref_face, embedder))
        return aligned, EmbeddingGradCAM.target_for(aligned, embedding_of(aligned), other)
    if target not in targets.ATTRIBUTE_MODELS:
        raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"unknown explanation target {target!r}")
    spec = attribute_spec(target, model)
    aligned = align(rgb, face, spec.template, spec.points)
    if target == "expression" and class_name is None:
        class_name = answered_expression(rgb, face.landmarks.to_array(), model)
    return aligned, attribute_target(target, aligned.crop, class_name, spec)


def attribute_target(
    attribute: str,
    crop: np.ndarray,
    class_name: str | None = None,
    spec: targets.ModelSpec | EnsembleSpec | None = None,
) -> Target:
    """The class target of `attribute` on its crop, for a network or an expression ensemble
    (`spec`: explain.attribute_models.attribute_spec's; default: the default model's)."""
    spec = spec or attribute_spec(attribute)
    if isinstance(spec, EnsembleSpec):
        return ensemble_target(spec, crop, class_name)
    return class_target(attribute, crop, class_name, spec)


def gradcam(
    image: ImageInput,
    target: TargetName = "expression",
    class_name: str | None = None,
    plus_plus: bool = False,
    layer: str | None = None,
    reference: ImageInput | None = None,
    face: int = 0,
    device: Device = "cpu",
    faithfulness: bool = True,
    embedder: str = DEFAULT_EMBEDDER,
    model: str | Path | None = None,
) -> Explanation:
    """Grad-CAM (or Grad-CAM++) for an attribute class (default: the predicted one) or the
    embedding of `embedder` (largest component, or the cosine similarity to the face in
    `reference`). model: the attribute's network as `FaceLens(attribute_models=...)` takes
    it, e.g. a file from `facelens train expression|crop` (explain.attribute_models)."""
    explainer: Explainer  # made first: a bad device is refused before any detection
    if target == "embedding":
        explainer = EmbeddingGradCAM(layer, device, faithfulness)
    else:
        kind = GradCAMPlusPlus if plus_plus else GradCAM
        explainer = kind(layer, device, faithfulness)
    rgb, found = locate(image, face, as_verify=target == "embedding")
    aligned, chosen = _resolve(rgb, found, target, class_name, reference, embedder, model)
    return explainer.explain(aligned, chosen)


def occlusion(
    image: ImageInput,
    target: TargetName | Target = "expression",
    class_name: str | None = None,
    patch: int | None = None,
    stride: float | None = None,
    fill: Literal["blur", "mean"] = "blur",
    reference: ImageInput | None = None,
    face: int = 0,
    device: Device = "cpu",
    faithfulness: bool = True,
    embedder: str = DEFAULT_EMBEDDER,
    model: str | Path | None = None,
) -> Explanation:
    """Occlusion map for any scalar target: a name as in `gradcam` (and `model` as there),
    or any `Target` (e.g. `FunctionTarget` over a quality score)."""
    explainer = Occlusion(patch, stride, fill, device, faithfulness)  # refuses bad options
    rgb, found = locate(image, face, as_verify=target == "embedding")
    aligned, chosen = _resolve(rgb, found, target, class_name, reference, embedder, model)
    return explainer.explain(aligned, chosen)


def pair_explainer(
    method: PairMethod,
    masks: int = DEFAULT_MASKS,
    device: Device = "cpu",
    faithfulness: bool = True,
    threshold: float | None = None,
    fill: Fill = DEFAULT_FILL,
    progress: Callable[[int], None] | None = None,
) -> Explainer:
    """masks, fill: CorrRISE's masks per image and what hidden regions become (the gradient
    method needs one backward pass); progress: told how many masks each batch scored."""
    if method == "corrrise":
        return CorrRISE(
            masks=masks, fill=fill, device=device, faithfulness=faithfulness, progress=progress
        )
    if method == "gradient":
        return GradientPair(threshold, device=device, faithfulness=faithfulness)
    if method == "transplant":
        return Transplant(device=device, faithfulness=faithfulness)
    raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"unknown pair method {method!r}")


def explain_pair(
    face_a: AlignedFace, face_b: AlignedFace, explainer: Explainer, threshold: float
) -> PairExplanation:
    """Both maps of a pair of aligned crops (of one embedder): each face against the
    other's embedding."""
    target_a, target_b = similarity_target(face_a, face_b), similarity_target(face_b, face_a)
    similarity = float(target_a.reference @ target_b.reference)
    return PairExplanation(
        method=explainer.method,
        embedder=target_a.embedder,
        similarity=round(similarity, 6),
        threshold=threshold,
        same_person=similarity > threshold,
        a=explainer.explain(face_a, target_a),
        b=explainer.explain(face_b, target_b),
    )


def pair(
    image_a: ImageInput,
    image_b: ImageInput,
    method: PairMethod = "gradient",  # as the CLI, REST and the page: the fastest faithful map
    masks: int = DEFAULT_MASKS,
    operating_point: str = DEFAULT_OPERATING_POINT,
    face_a: int = 0,
    face_b: int = 0,
    device: Device = "cpu",
    faithfulness: bool = True,
    fill: Fill = DEFAULT_FILL,
    progress: Callable[[int], None] | None = None,
    embedder: str = DEFAULT_EMBEDDER,
) -> PairExplanation:
    """Similar (> 0) and dissimilar (< 0) maps for both faces of a verification pair, as
    `embedder` sees it, with its own threshold (fill: what CorrRISE's hidden regions become;
    progress: CorrRISE's masks scored, 2 × masks in all)."""
    threshold = threshold_for(operating_point, False, check_embedder(embedder))
    explainer = pair_explainer(method, masks, device, faithfulness, threshold, fill, progress)
    # both photos decoded before either is analysed: a bad photo B costs no work on A
    decoded = [load_image(image) for image in (image_a, image_b)]
    aligned = [
        align_embedding(*locate(rgb, index, as_verify=True), embedder)
        for rgb, index in zip(decoded, (face_a, face_b), strict=True)
    ]
    return explain_pair(aligned[0], aligned[1], explainer, threshold)
