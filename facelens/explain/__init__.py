"""Explanations: Grad-CAM, embedding Grad-CAM, occlusion and pair maps, each with its
faithfulness (deletion/insertion against random and centre baselines).

    from facelens import explain
    explain.gradcam("face.jpg", target="expression").crop_map
    explain.occlusion("face.jpg", target="gender", patch=24, stride=10)
    explain.pair("a.jpg", "b.jpg", method="corrrise").b.crop_summary.trough
    explain.pair("a.jpg", "b.jpg", method="transplant")  # where B would need A's look
    explain.reconstruct("face.jpg").reconstruction  # the face decoded from its embedding
"""

from facelens.explain.api import gradcam, occlusion, pair
from facelens.explain.base import AlignedFace, Explainer
from facelens.explain.corrrise import CorrRISE
from facelens.explain.gradcam import EmbeddingGradCAM, GradCAM, GradCAMPlusPlus
from facelens.explain.gradient_pair import GradientPair
from facelens.explain.occlusion import Occlusion
from facelens.explain.reconstruct import decode, reconstruct, reconstruct_pair
from facelens.explain.result import (
    Explanation,
    Faithfulness,
    MapSummary,
    PairExplanation,
    Reconstruction,
    ReconstructionPair,
)
from facelens.explain.scores import (
    ClassTarget,
    ComponentTarget,
    FunctionTarget,
    SimilarityTarget,
    Target,
)
from facelens.explain.transplant import Transplant

__all__ = [
    "AlignedFace",
    "ClassTarget",
    "ComponentTarget",
    "CorrRISE",
    "EmbeddingGradCAM",
    "Explainer",
    "Explanation",
    "Faithfulness",
    "FunctionTarget",
    "GradCAM",
    "GradCAMPlusPlus",
    "GradientPair",
    "MapSummary",
    "Occlusion",
    "PairExplanation",
    "Reconstruction",
    "ReconstructionPair",
    "SimilarityTarget",
    "Target",
    "Transplant",
    "decode",
    "gradcam",
    "occlusion",
    "pair",
    "reconstruct",
    "reconstruct_pair",
]
