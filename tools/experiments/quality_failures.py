"""What limits the quality score on the degraded set (README, "Quality").

    python tools/experiments/quality_failures.py [--data ../shared/data/lfw]

Rebuilds `facelens eval quality`'s mixed held-out set (its cached records), then prints
which degradations the false non-matches involve, where the unified score ranks them, the
kinds of the pairs still kept after discarding 20%, and the pAUC of one more ordering that
was tried: the norm of dlib's descriptor before normalisation.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from facelens.detection.align import align_faces
from facelens.detection.dlib_points import dlib_points
from facelens.eval.lfw_pairs import threshold_at_fmr
from facelens.eval.quality import DEGRADED_SHARE, comparisons, curves, set_quality, similarities
from facelens.lens import FaceLens
from facelens.train import quality_dataset as dataset


def raw_norms(data: Path, variants: list, records: list, cleans: list) -> np.ndarray:
    embedder = FaceLens().quality_embedder
    out = []
    for variant, record, clean in zip(variants, records, cleans, strict=True):
        rgb, _ = dataset.render(data / "images", variant, clean)
        mesh = record.faces.mesh[record.pick : record.pick + 1]
        chip, _ = align_faces(rgb, dlib_points(mesh), embedder.template)
        out.append(
            float(np.linalg.norm(embedder.run(chip.transpose(0, 3, 1, 2).astype(np.float32))[0]))
        )
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lfw"))
    data = parser.parse_args().data
    names = dataset.fold_images(data, held_out=True)
    clean_variants = [dataset.Variant(n) for n in names]
    clean, _, unified, _, _ = set_quality(
        data, clean_variants, "test_clean", None, 2, lambda _n: None
    )
    by_name = dict(zip(names, clean, strict=True))
    degraded_variants = dataset.degraded_variants(names, 1, "test")
    cleans = [by_name[v.name] for v in degraded_variants]
    degraded, _, d_unified, _, _ = set_quality(
        data, degraded_variants, "test_degraded", cleans, 2, lambda _n: None
    )
    swap = np.random.default_rng(dataset.seed_of("mixed")).random(len(names)) < DEGRADED_SHARE
    mixed = [d if s else c for d, c, s in zip(degraded, clean, swap, strict=True)]
    quality = np.where(swap, d_unified, unified)
    kinds = np.array(
        [v.degradation.kind if s else "clean" for v, s in zip(degraded_variants, swap, strict=True)]
    )
    similarity, same = similarities(clean, names)
    threshold = threshold_at_fmr(similarity[~same], 1e-3)
    i, j, same = comparisons(names)
    vectors = np.stack([r.embeddings[0] for r in mixed]).astype(np.float32)
    genuine_sims = np.einsum("nd,nd->n", vectors[i[same]], vectors[j[same]])
    miss = genuine_sims <= threshold
    pair_quality = np.minimum(quality[i[same]], quality[j[same]])
    rank = np.argsort(np.argsort(pair_quality)) / len(pair_quality)
    worse = np.where(quality[i[same]] <= quality[j[same]], i[same], j[same])
    print(f"{same.sum()} genuine pairs, {miss.sum()} false non-matches at FMR 1e-3")
    every, missed = Counter(kinds[worse]), Counter(kinds[worse[miss]])
    for kind in sorted(every):
        print(
            f"  worse photo {kind:15s} pairs {every[kind]:4d}  false non-matches {missed[kind]:3d}"
        )
    print(f"  their quality rank (0 = discarded first): median {np.median(rank[miss]):.2f}")
    kept = miss & (rank > 0.2)
    kept_pairs = zip(i[same][kept], j[same][kept], strict=True)
    pair_kinds = Counter(" + ".join(sorted((kinds[a], kinds[b]))) for a, b in kept_pairs)
    print(f"  still kept after discarding 20%: {kept.sum()}: {dict(pair_kinds)}")
    norms = np.where(
        swap,
        raw_norms(data, degraded_variants, degraded, cleans),
        raw_norms(data, clean_variants, clean, [None] * len(names)),
    )
    result = curves(mixed, names, {"unified": quality, "descriptor norm": norms}, threshold)
    random = result["random"]["pauc_20"]
    for name in ("unified", "descriptor norm"):
        area = result[name]["pauc_20"]
        print(f"pAUC20 {name}: {area:.5f} = {area / random:.2f}x random")


if __name__ == "__main__":
    main()
