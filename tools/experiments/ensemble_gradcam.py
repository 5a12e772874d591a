"""Which Grad-CAM layer explains an expression ensemble: one member's, or the sum of both.

    PYTHONPATH=$PWD python tools/experiments/ensemble_gradcam.py [--faces 20]
        [--model mini-xception+faceapi-fer]

Each variant maps the ensemble's calibrated probability of its answer (explain.ensemble) on
the first faces of `facelens eval explain`'s held-out LFW pairs and prints the deletion area
against a smooth random map and a centre Gaussian (lower is better). Single layers go
through the product's Grad-CAM (`layer="member:tensor"`); a sum adds mini-Xception's map to
one of face-api's, each of the same ensemble score (the first design).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from facelens.eval.explain import AreaLog, held_out_faces
from facelens.explain.api import attribute_target
from facelens.explain.attribute_models import attribute_spec
from facelens.explain.ensemble import EnsembleSpec
from facelens.explain.gradcam import GradCAM
from facelens.explain.scores import Target

MINI = "mini-xception:StatefulPartitionedCall/model_1/add_2/add:0"
FACEAPI = tuple(f"faceapi-fer:/Relu_{i}_output_0" for i in (15, 13, 11, 9, 7))  # 7² .. 28²


class SummedGradCAM(GradCAM):
    """The sum of the raw Grad-CAM maps at several layers, one per member."""

    def __init__(self, layers: tuple[str, ...]) -> None:
        super().__init__()
        self.parts = layers

    def compute(self, crop: np.ndarray, target: Target) -> np.ndarray:
        return sum(GradCAM(layer, faithfulness=False).compute(crop, target) for layer in self.parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lfw"))
    parser.add_argument("--faces", type=int, default=20)
    parser.add_argument("--model", default="mini-xception+faceapi-fer")
    args = parser.parse_args()
    spec = attribute_spec("expression", args.model)
    assert isinstance(spec, EnsembleSpec), f"{args.model} is not an ensemble"
    log = AreaLog()
    for crops, pair in held_out_faces(args.data, args.faces):
        crop = crops(pair.image_a, spec.template, spec.points)
        assert crop is not None
        target = attribute_target("expression", crop.crop, None, spec)
        for layer in (MINI, *FACEAPI):
            log.add(layer, GradCAM(layer), crop, target)
        for layer in FACEAPI:
            log.add(f"sum: mini-xception + {layer}", SummedGradCAM((MINI, layer)), crop, target)
    print("\n".join(log.lines()))


if __name__ == "__main__":
    main()
