"""`facelens eval quality`: error-versus-discard curves on LFW's held-out tenth fold.

Comparisons: every same-person pair and every different-person pair among the fold's
images (more genuine pairs than the 300 listed ones, so the curves are less noisy). The
threshold is the one giving FMR = 1e-3 on that set; then the lowest-quality genuine pairs
(pair quality = the lower of the two faces') are discarded, 0-30%, and the FNMR of the rest
is plotted (ISO/IEC 29794-1 EDC). pauc_20 is the area under the curve up to 20% discard.
The same on the "degraded" set, where a seeded random DEGRADED_SHARE of the images are
replaced by a random degradation of themselves (mild to severe), with the threshold kept at
the clean set's (the system's operating point does not move with the photos); and the
retake rates on the clean set and on the "severe" set (every image under each of the
issue's severe degradations).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from facelens.eval.lfw_pairs import threshold_at_fmr
from facelens.quality import QualityConfig, scores_from_raw
from facelens.quality.policies import get_policy, policy_embedder
from facelens.quality.stability import stability
from facelens.train import quality_dataset as dataset
from facelens.train.degrade import SEVERE
from facelens.train.policies import TARGETS, measure

DISCARD = np.round(np.arange(0, 0.301, 0.01), 2)
PAUC_LIMIT = 0.2
RANDOM_REPEATS = 20
DEGRADED_SHARE = 0.1  # ~19% of comparisons involve a degraded photo: inside the discard range


def set_quality(
    data: Path, variants: list, tag: str, cleans: list | None, workers: int, tick: Callable
) -> tuple[list, dict[str, np.ndarray], np.ndarray, dict, np.ndarray]:
    """Records, raw measures, unified scores, component scores and verdict per variant."""
    records = dataset.process(data / "images", variants, tag, cleans, tick, workers)
    raw = dataset.measure_all(data / "images", variants, records, cleans, workers)
    vectors = np.stack([r.embeddings for r in records], 1).astype(np.float32)
    raw["embedding_stability"] = stability(vectors)  # PERTURBATIONS_AT_RUNTIME, in order
    unified, scores, _ = scores_from_raw(raw)
    config = QualityConfig()
    floored = np.zeros(len(unified), bool)
    for name, floor in config.floors.items():
        floored |= scores[name] < floor
    retake = (unified < config.retake_below) | floored
    return records, raw, unified, scores, retake


def comparisons(names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, same) for every unordered pair of images."""
    people = np.array([dataset.identity(n) for n in names])
    i, j = np.triu_indices(len(names), k=1)
    return i, j, people[i] == people[j]


def edc(
    similarity: np.ndarray,
    same: np.ndarray,
    pair_quality: np.ndarray,
    rng: np.random.Generator,
    threshold: float,
) -> np.ndarray:
    """FNMR at DISCARD fractions of the lowest-quality genuine comparisons (ties random)."""
    genuine = similarity[same]
    quality = pair_quality[same]
    order = np.lexsort((rng.random(len(quality)), quality))  # ascending, ties shuffled
    errors = (genuine[order] <= threshold).astype(np.float64)
    out = []
    for fraction in DISCARD:
        kept = errors[round(fraction * len(errors)) :]
        out.append(float(kept.mean()) if len(kept) else 0.0)
    return np.array(out)


def pauc(curve: np.ndarray) -> float:
    keep = DISCARD <= PAUC_LIMIT + 1e-9
    x, y = DISCARD[keep], curve[keep]
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)))


def orderings(unified: np.ndarray, scores: dict, raw: dict) -> dict[str, np.ndarray]:
    out = {"unified": unified}
    out |= {f"component:{n}": s for n, s in scores.items()}
    out["embedding_stability"] = raw["embedding_stability"]
    out["detector_confidence"] = raw["detector_confidence"]
    return out


def similarities(records: list, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    vectors = np.stack([r.recognition[0] for r in records]).astype(np.float32)
    i, j, same = comparisons(names)
    return np.einsum("nd,nd->n", vectors[i], vectors[j]), same


def curves(
    records: list, names: list[str], per_image: dict[str, np.ndarray], threshold: float
) -> dict:
    similarity, same = similarities(records, names)
    i, j, _ = comparisons(names)
    rng = np.random.default_rng(0)
    out = {}
    for name, quality in per_image.items():
        curve = edc(similarity, same, np.minimum(quality[i], quality[j]), rng, threshold)
        out[name] = {"pauc_20": round(pauc(curve), 6), "curve": curve.round(5).tolist()}
    random = np.mean(
        [edc(similarity, same, rng.random(len(i)), rng, threshold) for _ in range(RANDOM_REPEATS)],
        0,
    )
    out["random"] = {"pauc_20": round(pauc(random), 6), "curve": random.round(5).tolist()}
    return out


def policy_check(records: list, names: list[str], quality: np.ndarray) -> dict:
    """The shipped policies (plain embeddings) re-measured on the held-out fold."""
    vectors = np.stack([r.recognition[0] for r in records]).astype(np.float32)
    i, j, same = comparisons(names)
    similarity = np.einsum("nd,nd->n", vectors[i], vectors[j])
    pair_quality = np.minimum(quality[i], quality[j])
    out = {}
    for name, target in TARGETS.items():
        policy = get_policy(name, False, policy_embedder())
        out[name] = measure(
            target, policy.min_quality, similarity, same, pair_quality, threshold=policy.threshold
        )
    return out


def evaluate_quality(data: Path, workers: int = 2, tick: Callable | None = None) -> dict:
    tick = tick or (lambda _n: None)
    names = dataset.fold_images(data, held_out=True)
    clean_variants = [dataset.Variant(n) for n in names]
    clean, raw, unified, scores, retake = set_quality(
        data, clean_variants, "test_clean", None, workers, tick
    )
    by_name = dict(zip(names, clean, strict=True))
    degraded_variants = dataset.degraded_variants(names, 1, "test")
    cleans = [by_name[v.name] for v in degraded_variants]
    all_degraded, d_raw, d_unified, d_scores, _ = set_quality(
        data, degraded_variants, "test_degraded", cleans, workers, tick
    )
    # the mixed set: a seeded share of the images degraded, the rest clean
    swap = np.random.default_rng(dataset.seed_of("mixed")).random(len(names)) < DEGRADED_SHARE
    degraded = [d if s else c for d, c, s in zip(all_degraded, clean, swap, strict=True)]
    d_raw = {k: np.where(swap, v, raw[k]) for k, v in d_raw.items()}
    d_unified = np.where(swap, d_unified, unified)
    d_scores = {k: np.where(swap, v, scores[k]) for k, v in d_scores.items()}
    severe_variants = dataset.severe_variants(names)
    cleans = [by_name[v.name] for v in severe_variants]
    severe, _, _, _, s_retake = set_quality(
        data, severe_variants, "test_severe", cleans, workers, tick
    )
    found = np.array([r.found for r in severe])
    similarity, same = similarities(clean, names)
    threshold = threshold_at_fmr(similarity[~same], 1e-3)
    severe_report = {}
    for k, degradation in enumerate(SEVERE):
        part = slice(k * len(names), (k + 1) * len(names))
        severe_report[degradation.label()] = {
            "retake": round(float(s_retake[part].mean()), 4),
            "retake_or_no_face": round(float((s_retake[part] | ~found[part]).mean()), 4),
            "no_face": round(float((~found[part]).mean()), 4),
        }
    return {
        "images": len(names),
        "genuine_pairs": int(comparisons(names)[2].sum()),
        "discard": DISCARD.tolist(),
        "threshold_fmr_1e-3": round(threshold, 4),
        "degraded_share": DEGRADED_SHARE,
        "held_out": curves(clean, names, orderings(unified, scores, raw), threshold),
        "degraded": curves(degraded, names, orderings(d_unified, d_scores, d_raw), threshold),
        "policies_held_out": policy_check(clean, names, np.where(retake, 0.0, unified)),
        "retake": {
            "clean": round(float(retake.mean()), 4),
            "severe_all": round(float(s_retake.mean()), 4),
            "severe_all_or_no_face": round(float((s_retake | ~found).mean()), 4),
            "severe": severe_report,
        },
        "undetected": {
            "clean": int(sum(not r.found for r in clean)),
            "degraded": int(sum(not r.found for r in degraded)),
            "degraded_images": int(swap.sum()),
            "severe": int((~found).sum()),
        },
    }
