"""Which network, crop and layer each explanation target uses: the one table to edit.

Attribute models, crops and normalisation are those of `facelens.attributes` (its main
view only: an explanation is of one aligned image, not of the zoom/mirror average):

| target     | file (output)                    | crop           | input           | layer      |
| ---------- | -------------------------------- | -------------- | --------------- | ---------- |
| expression | emotion.onnx                     | 64² FER frame  | grey NHWC −1..1 | add_2 (8²) |
| age        | faceapi-age-gender.onnx (age)    | 112² dlib 0.2  | (RGB − mean)/255 | features  |
| gender     | faceapi-age-gender.onnx (gender) | 112² dlib 0.2  | (RGB − mean)/255 | features  |
| embedding  | `EMBEDDINGS[name]` (below)       | its own chip   | RGB 0..255      | see below  |

The embedding target follows the embedder FaceLens uses (`FaceLens(embedder=...)`, default
"fused"); each entry of `EMBEDDINGS` says what its explanations run on:

| embedder | torch twin             | crop                          | Grad-CAM layer         |
| -------- | ---------------------- | ----------------------------- | ---------------------- |
| dlib     | DlibResNet             | 150² DLIB_CHIP (dlib points)  | level3 (17²)           |
| sface    | OnnxTorch(sface.onnx)  | 112² ARCFACE_112 (five points) | SFACE_LAYERS[0]       |
| fused    | both, each on its chip | 192² FUSED_FRAME (five points) | each part's own layer |

A fused map is a composition (facelens.explain.embedding): each network sees its own chip,
cut from the photo as FaceLens cuts it, and its part of the map is warped back into the
fused frame (an upright crop holding both chips) and weighted as the fusion weighs its
cosine: fused cosine = Σ_i w_i² cos_i / Σ_i w_i².

The default expression model is an ensemble (mini-Xception with "faceapi-fer"): it is
explained as a whole by facelens.explain.ensemble, Grad-CAM at the expression row's layer
(mini-Xception's) by default; the row above is its first member.

Age and gender explanations are always of face-api's crop network, whichever age/gender
model FaceLens uses (attributes.choice). An embedding head (alone, or blended with face-api
as the shipped "head" models are) reads two recognition networks on two different crops
(fused: SFace's 112² ArcFace chip and dlib's 150² chip), which no single-crop map here
describes; for those models the maps explain the face-api part of the blend only, and the
"embedding" target shows what the recognition vector itself looks at.

"dlib 0.2": a dlib chip with padding 0.2. The expression layer's ONNX name is
`StatefulPartitionedCall/model_1/add_2/add:0`; "features" is `exit_flow/features` (7²), the
age/gender network's last map before its global pooling (`middle_flow/main_block_1`, 14²,
is the finer option). dlib's layer is earlier: of `level3` (17²), `level2` (8²),
`level1` (4²) and `level0` (2²), `tools/gradcam_layer_sweep.py` found level3's maps the most
faithful by deletion for the cosine target (none reaches the centre baseline; see README);
SFace's layer (an ONNX tensor name) was chosen by the same sweep: `conv_10_relu` (14²),
deletion 0.491 against random 0.518 and centre 0.331 on 20 faces, barely better than
random at any of its five feature maps (see README).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from facelens.attributes.age_gender import CHANNEL_MEANS, FaceApiAgeGender
from facelens.attributes.choice import CROP_FILES, DEFAULT_CROPS
from facelens.attributes.expression import FER_FRAME, LUMA, NETWORK_ORDER
from facelens.detection.align import CropTemplate
from facelens.models.onnx_model import OnnxModel, weight_path
from facelens.recognition.dlib import DLIB_CHIP
from facelens.recognition.registry import FUSION_WEIGHT
from facelens.recognition.sface import ARCFACE_112

Preprocess = Callable[[torch.Tensor], torch.Tensor]
# (five landmarks 5×2, face mesh 468×3) -> the 5 points the crop template is defined on
Points = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


def five_landmarks(five: np.ndarray, mesh: np.ndarray | None) -> np.ndarray:
    """facelens's own five landmarks (what the attribute models' crops are cut from)."""
    return five


def dlib_landmarks(five: np.ndarray, mesh: np.ndarray | None) -> np.ndarray:
    """dlib's 5 points predicted from the mesh (what `FaceLens.embed` cuts chips from)."""
    from facelens.detection.dlib_points import dlib_points

    if mesh is None:
        raise ValueError("the embedding crop needs the face mesh")
    return dlib_points(mesh[None])[0]


def _grey_nhwc(x: torch.Tensor) -> torch.Tensor:
    # N×3×S×S RGB 0..255 -> N×S×S×1 grey (BT.601 luma) in −1..1
    luma = torch.from_numpy(LUMA).to(x.device).view(1, 3, 1, 1)
    return ((x * luma).sum(1, keepdim=True) / 127.5 - 1.0).permute(0, 2, 3, 1)


def _faceapi_normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.from_numpy(CHANNEL_MEANS).to(x.device).view(1, 3, 1, 1)) / 255.0


@dataclass(frozen=True)
class ModelSpec:
    """An attribute classifier as the explainers see it."""

    file: str | Path  # a shipped file's name, or the path of a user's (`facelens train`)
    template: CropTemplate
    preprocess: Preprocess  # N×3×S×S RGB float 0..255 -> the network's input
    output: str  # ONNX output holding the class probabilities
    labels: tuple[str, ...]  # in the network's output order
    layer: str  # default Grad-CAM target layer (ONNX tensor name)
    points: Points = five_landmarks  # which landmarks `template` is defined on
    # a head's blend partner: the share of the head's answer this network carries, which the
    # result's target states (", faceapi-utk at weight 0.6 of dlib-head")
    share: str = ""


ATTRIBUTE_MODELS: dict[str, ModelSpec] = {
    "expression": ModelSpec(
        file="emotion.onnx",
        template=FER_FRAME,
        preprocess=_grey_nhwc,
        output="predictions",
        labels=NETWORK_ORDER,
        layer="StatefulPartitionedCall/model_1/add_2/add:0",
    ),
    "age": ModelSpec(
        # the crop network of the default age model (the dlib head blends with it, weight 0.6)
        file=CROP_FILES[DEFAULT_CROPS["age"]],
        template=FaceApiAgeGender.templates[0],
        preprocess=_faceapi_normalise,
        output="age",
        labels=("years",),  # a regression: the one "class" is the predicted age
        layer="exit_flow/features",
    ),
    "gender": ModelSpec(
        file=CROP_FILES[DEFAULT_CROPS["gender"]],
        template=FaceApiAgeGender.templates[0],
        preprocess=_faceapi_normalise,
        output="gender",
        labels=FaceApiAgeGender.labels,
        layer="exit_flow/features",
    ),
}


@dataclass(frozen=True)
class EmbeddingSpec:
    """A recogniser as the embedding explanations see it: one network on its own chip, or
    (parts) a fusion of networks [w_1·e_1, w_2·e_2, ...] renormalised, shown on `template`."""

    template: CropTemplate
    points: Points  # which landmarks `template` is defined on
    layers: tuple[str, ...] = ()  # Grad-CAM candidates (first = default); none for a fusion
    parts: tuple[tuple[str, float], ...] = ()  # (network, weight in the fused vector)


# The fused frame: ArcFace's template at 1.5× (53 px between the eyes, at least dlib's chip's
# resolution), shifted so that both chips lie inside it (SFace's reaches higher, dlib's lower).
FUSED_FRAME = CropTemplate(size=192, points=(ARCFACE_112.points * 1.5 + [12.0, 5.5]))
DLIB_LAYERS = ("level3", "level2", "level1", "level0")  # DlibResNet submodules
# SFace's feature maps (56² conv_4, 28² conv_6, 14² conv_10 and conv_12, 7² conv_14), ordered
# by the sweep's deletion area on 20 held-out faces (README, Explanations)
SFACE_LAYERS = ("conv_10_relu", "conv_12_relu", "conv_14_relu", "conv_4_relu", "conv_6_relu")

EMBEDDINGS: dict[str, EmbeddingSpec] = {
    "dlib": EmbeddingSpec(DLIB_CHIP, dlib_landmarks, DLIB_LAYERS),
    "sface": EmbeddingSpec(ARCFACE_112, five_landmarks, SFACE_LAYERS),
    "fused": EmbeddingSpec(
        FUSED_FRAME, five_landmarks, parts=(("sface", 1.0), ("dlib", FUSION_WEIGHT))
    ),
}

_lock = threading.Lock()


@cache
def onnx_model(file: str | Path) -> OnnxModel:
    """ONNX Runtime session per file (the scoring path of every perturbation method)."""
    with _lock:
        return OnnxModel(file)


@cache
def _torch_model(file: str | Path, device: str) -> torch.nn.Module:
    from facelens.models.torch_onnx import OnnxTorch

    model = OnnxTorch(file if isinstance(file, Path) else weight_path(file)).eval().to(device)
    return model


@cache
def _embedding_net(network: str, device: str) -> torch.nn.Module:
    from facelens.recognition.registry import NETWORKS

    return NETWORKS[network].torch_twin(device)


def torch_model(file: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The torch twin of an attribute ONNX file (OnnxTorch), one per file and device."""
    with _lock:
        return _torch_model(file, str(torch.device(device)))


def embedding_net(network: str, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The torch twin of a recognition network (`dlib`, `sface`), one per device."""
    with _lock:
        return _embedding_net(network, str(torch.device(device)))
