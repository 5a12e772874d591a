"""Grad-CAM faithfulness per target layer, to choose each target's default layer.

    python tools/gradcam_layer_sweep.py [--data ../shared/data/lfw] [--faces 20] [--json]
        [--targets age,gender,dlib,sface]

Runs Grad-CAM and Grad-CAM++ at every candidate layer of the age/gender network, and Grad-CAM
at every candidate layer of each recognition network (dlib, SFace: cosine to the pair's
other face, on the network's own chip), on the first images of held-out LFW genuine pairs,
and prints the deletion area against the random and centre baselines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facelens.eval.explain import AreaLog, held_out_faces
from facelens.explain.api import class_target, similarity_target
from facelens.explain.gradcam import EmbeddingGradCAM, GradCAM, GradCAMPlusPlus
from facelens.explain.targets import ATTRIBUTE_MODELS, SFACE_LAYERS

# Feature maps with some spatial extent (ONNX tensor names; DlibResNet levels).
AGE_GENDER_LAYERS = (
    "middle_flow/main_block_0",
    "middle_flow/main_block_1",
    "exit_flow/reduction_block",
    "exit_flow/features",
)
CANDIDATES = {
    "age": AGE_GENDER_LAYERS,
    "gender": AGE_GENDER_LAYERS,
    "dlib": ("level0", "level1", "level2", "level3", "level4"),
    "sface": SFACE_LAYERS,
}  # fmt: skip


def sweep(data: Path, faces: int, chosen: tuple[str, ...]) -> AreaLog:
    log = AreaLog()
    for embedder in [c for c in chosen if c in ("dlib", "sface")]:
        for crops, pair in held_out_faces(data, faces, embedder):
            face_a, face_b = crops.embedding(pair.image_a), crops.embedding(pair.image_b)
            assert face_a is not None and face_b is not None
            similarity = similarity_target(face_a, face_b)
            for layer in CANDIDATES[embedder]:
                name = f"embedding-gradcam/{embedder}/{layer}"
                log.add(name, EmbeddingGradCAM(layer), face_a, similarity)
    for crops, pair in held_out_faces(data, faces if {"age", "gender"} & set(chosen) else 0):
        for attribute in [c for c in chosen if c in ("age", "gender")]:
            spec = ATTRIBUTE_MODELS[attribute]
            crop = crops(pair.image_a, spec.template, spec.points)
            assert crop is not None
            target = class_target(attribute, crop.crop, None)
            for layer in CANDIDATES[attribute]:
                for method in (GradCAM(layer), GradCAMPlusPlus(layer)):
                    log.add(f"{method.method}/{attribute}/{layer}", method, crop, target)
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lfw"))
    parser.add_argument("--faces", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--targets", default=",".join(CANDIDATES))
    args = parser.parse_args()
    log = sweep(args.data, args.faces, tuple(args.targets.split(",")))
    print(json.dumps(log.summary(), indent=2) if args.json else "\n".join(log.lines()))


if __name__ == "__main__":
    main()
