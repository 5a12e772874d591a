"""Explanation variants tried and not kept (README, "Explanations").

    python tools/experiments/explanation_variants.py patches   # occlusion patch sizes
    python tools/experiments/explanation_variants.py grids     # CorrRISE grids, region game
    python tools/experiments/explanation_variants.py occlusion # occlusion, region game
    python tools/experiments/explanation_variants.py hirescam  # HiResCAM on the embedding

patches: occlusion with patches of 0.16-0.4 of the crop for age and gender on the first 20
held-out faces and on the next 60 (deletion / random / centre). grids: the region game on
40 swapped genuine pairs for CorrRISE (other-face fill) with 5-16 cells and 1,000 or 3,000
masks. occlusion: the same 40 trials with occlusion maps (patch size, fill). hirescam:
gradient × activation per position (no spatial averaging) at each embedding level, cosine
target, 20 faces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch.nn.functional as F

from facelens.eval.explain import (
    AreaLog,
    LfwCrops,
    _region_game,
    held_out_faces,
    held_out_pairs,
    swapped_region,
)
from facelens.explain.api import class_target, similarity_target
from facelens.explain.base import Explainer
from facelens.explain.corrrise import CorrRISE
from facelens.explain.gradcam import EmbeddingGradCAM
from facelens.explain.occlusion import Occlusion
from facelens.explain.targets import ATTRIBUTE_MODELS

DATA = Path("../shared/data/lfw")
EMBEDDER = "dlib"  # these experiments were run on dlib (README, Explanations)


def patches() -> None:
    for first, last in ((0, 20), (20, 80)):
        log = AreaLog()
        for n, (crops, pair) in enumerate(held_out_faces(DATA, last)):
            if n < first:
                continue
            for attribute in ("age", "gender"):
                spec = ATTRIBUTE_MODELS[attribute]
                crop = crops(pair.image_a, spec.template, spec.points)
                assert crop is not None
                target = class_target(attribute, crop.crop, None)
                for share in (0.16, 0.25, 0.33, 0.4):
                    name = f"faces {first}-{last} {attribute} {share}"
                    log.add(name, Occlusion(round(share * spec.template.size)), crop, target)
        print("\n".join(log.lines()))


def swapped_trials(count: int = 40) -> list[tuple]:
    """The region game's first `count` trials: (face A, B with one region swapped, box)."""
    crops = LfwCrops(DATA, EMBEDDER)
    chosen = held_out_pairs(DATA, 200)
    donors = [p.image_a for p in chosen if not p.same]
    trials = []
    for n, pair in enumerate(chosen):
        a, b = crops.embedding(pair.image_a), crops.embedding(pair.image_b)
        trial = (
            swapped_region(crops, donors, pair, n, b, len(trials))
            if pair.same and a and b
            else None
        )
        if a is None or trial is None:
            continue
        swapped, box, _ = trial
        trials.append((a, b, swapped, box))
        if len(trials) == count:
            break
    return trials


def play(name: str, explainer: Explainer, trials: list[tuple]) -> None:
    hits = [_region_game(explainer, a, b, swapped, box) for a, b, swapped, box in trials]
    print(f"{name}: region game {np.mean(hits):.1%} of {len(hits)}")


def grids() -> None:
    trials = swapped_trials()
    for cells, masks in ((8, 1000), (5, 1000), (6, 1000), (12, 1000), (16, 1000), (12, 3000)):
        explainer = CorrRISE(masks=masks, cells=cells, fill="other_face", faithfulness=False)
        play(f"CorrRISE {cells} cells, {masks} masks", explainer, trials)


def occlusion() -> None:
    trials = swapped_trials()
    for patch in (16, 24, 32):
        for fill in ("blur", "mean"):
            explainer = Occlusion(patch, fill=fill, faithfulness=False)
            play(f"occlusion {patch} px, {fill} fill", explainer, trials)


class HiResCAM(EmbeddingGradCAM):
    method = "hirescam"

    def compute(self, crop: np.ndarray, target) -> np.ndarray:  # type: ignore[no-untyped-def]
        acts, grads = self.gradients(crop, target)
        cam = F.relu((grads * acts).sum(dim=1, keepdim=True))
        size = crop.shape[0]
        return F.interpolate(cam, size=(size, size), mode="bilinear")[0, 0].cpu().numpy()


def hirescam() -> None:
    log = AreaLog()
    for crops, pair in held_out_faces(DATA, 20, EMBEDDER):
        a, b = crops.embedding(pair.image_a), crops.embedding(pair.image_b)
        assert a is not None and b is not None
        similarity = similarity_target(a, b)
        for layer in ("level0", "level1", "level2", "level3"):
            log.add(f"HiResCAM {layer}", HiResCAM(layer), a, similarity)
    print("\n".join(log.lines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    experiments = {"patches": patches, "grids": grids, "occlusion": occlusion, "hirescam": hirescam}
    parser.add_argument("experiment", choices=list(experiments))
    experiments[parser.parse_args().experiment]()


if __name__ == "__main__":
    main()
