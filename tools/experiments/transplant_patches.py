"""The transplant map's patch size, chosen by the region game on an LFW fold other than the
evaluation's (issue 14; README, Explanations).

    python tools/experiments/transplant_patches.py --fold 8 --pairs 60 \
        --variants blur:0.12,transplant:0.08,transplant:0.10,transplant:0.12,transplant:0.16

The first `--pairs` pairs of `--fold` (0-based; `facelens eval explain` holds out fold 9),
genuine and impostor interleaved as `facelens eval explain` takes them; on each genuine pair
one region of B (eyes, nose, mouth in turn) is replaced by a stranger's, and each variant's
map of the swapped B against A is scored a hit when its minimum falls inside the region.
Variants: `blur:SHARE` (occlusion, blurred fill), `transplant:SHARE` (the other face's
patch) or `both:SHARE` (B's transplant map plus A's, A's patches taken from the swapped B:
the two crops share one template, so a pixel is the same place on both faces) or
`combo:SHARE` (the transplant and blurred-occlusion maps, each scaled to a peak of 1, added),
SHARE the patch side as a share of the crop; `KIND:SHARE:GRID` sets the patches per side
(14 by default; the stride is computed for the fused 192 px frame).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import facelens.eval.explain as evaluation
from facelens.eval.region_game import region_hit
from facelens.explain import AlignedFace, Occlusion, Transplant
from facelens.explain.api import similarity_target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/lfw"))
    ap.add_argument("--fold", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--variants", default="blur:0.12,transplant:0.10,transplant:0.12")
    a = ap.parse_args()
    chosen = evaluation.held_out_pairs(a.data, a.pairs, a.fold)
    crops = evaluation.LfwCrops(a.data)
    donors = [p.image_a for p in chosen if not p.same]
    variants = {}
    for spec in a.variants.split(","):
        kind, share, *grid = spec.split(":")
        method = Occlusion() if kind == "blur" else Transplant(faithfulness=False)
        method.with_faithfulness, method.patch_share = False, float(share)
        if grid:  # patches per side: the stride that spreads them over a 192 px frame
            method.stride = (192 - round(float(share) * 192)) / (int(grid[0]) - 1)
        variants[spec] = (kind, method)
    hits: dict[str, list[bool]] = {v: [] for v in variants}
    seconds = dict.fromkeys(variants, 0.0)
    regions: list[str] = []
    for n, pair in enumerate(chosen):
        if not pair.same:
            continue
        face_a, face_b = crops.embedding(pair.image_a), crops.embedding(pair.image_b)
        if face_a is None or face_b is None:
            continue
        trial = evaluation.swapped_region(crops, donors, pair, n, face_b, len(regions))
        if trial is None:
            continue
        swapped, box, name = trial
        regions.append(name)
        target = similarity_target(face_b, face_a)
        swapped_b = AlignedFace(swapped, embedder=face_b.embedder, parts=face_b.parts)
        for spec, (kind, method) in variants.items():
            start = time.perf_counter()
            crop_map = method.compute(swapped, target)
            if kind == "combo":
                blur = Occlusion()
                blur.patch_share = method.patch_share
                other = blur.compute(swapped, target)
                crop_map = crop_map / np.abs(crop_map).max() + other / np.abs(other).max()
            if kind == "both":
                crop_map = crop_map + method.compute(
                    face_a.crop, similarity_target(face_a, swapped_b)
                )
            hits[spec].append(region_hit(crop_map, box))
            seconds[spec] += time.perf_counter() - start
    where = np.array(regions)
    for spec in variants:
        found = np.array(hits[spec])
        row = {
            "variant": spec,
            "fold": a.fold,
            "trials": len(found),
            "hit_rate": round(float(found.mean()), 4),
            "by_region": {r: round(float(found[where == r].mean()), 4) for r in sorted(set(where))},
            "seconds_per_map": round(seconds[spec] / len(found), 2),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
