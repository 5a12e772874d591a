"""Fitting the decision policies (facelens/quality/policies.py) to their targets on LFW.

A policy is a target: which faces it refuses (its quality floor) and the false-match or
false-non-match rate its threshold must give among the remaining pairs. The threshold is
measured on every pair of the training folds' images and written to policies.json;
`facelens eval quality` re-measures the shipped thresholds on the held-out fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facelens.eval.lfw_pairs import threshold_at_fmr
from facelens.recognition.names import DEFAULT_EMBEDDER
from facelens.train.quality_dataset import identity


@dataclass(frozen=True)
class Target:
    min_quality: str  # "retake": refuse retake faces only; "ok": refuse low too; or a number
    fmr: float | None = None  # threshold chosen for this false-match rate...
    fnmr: float | None = None  # ...or for this false-non-match rate


TARGETS = {
    "strict": Target("ok", fmr=1e-4),
    "lenient": Target("retake", fnmr=1e-2),
    "identity_check": Target("0.8", fmr=1e-3),
}


def quality_floor(target: Target, retake_below: float, low_below: float) -> float:
    return {"retake": retake_below, "ok": low_below}.get(target.min_quality) or float(
        target.min_quality
    )


def measure(
    target: Target,
    floor: float,
    similarity: np.ndarray,
    same: np.ndarray,
    pair_quality: np.ndarray,
    threshold: float | None = None,
) -> dict:
    """Threshold (fitted unless given) and its FMR / FNMR / refusals on these comparisons."""
    kept = pair_quality >= floor
    genuine, impostor = similarity[same & kept], similarity[~same & kept]
    if threshold is None:
        if target.fmr is not None:
            threshold = threshold_at_fmr(impostor, target.fmr)
        else:
            threshold = float(np.quantile(genuine, target.fnmr or 0.0))
    return {
        "threshold": round(float(threshold), 4),
        "min_quality": round(floor, 4),
        "fmr": float(np.mean(impostor > threshold)) if len(impostor) else 0.0,
        "fnmr": float(np.mean(genuine <= threshold)) if len(genuine) else 0.0,
        "refused": float(1 - kept.mean()),
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
    }


def calibrate_policies(
    clean: list, names: list[str], quality: np.ndarray, retake_below: float, low_below: float
) -> dict:
    """Each policy's threshold, measured on every pair of training-fold images."""
    people = np.array([identity(n) for n in names])
    plain = np.stack([r.recognition[0] for r in clean]).astype(np.float32)
    flipped = np.stack([r.recognition[1] for r in clean]).astype(np.float32)
    i, j = np.triu_indices(len(names), k=1)
    same = people[i] == people[j]
    pair_quality = np.minimum(quality[i], quality[j])
    out: dict = {
        "measured_on": f"LFW folds 1-9: all {len(i)} pairs of their {len(names)} images "
        f"({int(same.sum())} same-person); tools/train_quality.py",
    }
    out["embedder"] = DEFAULT_EMBEDDER
    for variant, vectors in (("plain", plain), ("flip", flipped)):
        similarity = (vectors @ vectors.T)[i, j]
        out[variant] = {}
        for name, target in TARGETS.items():
            floor = quality_floor(target, retake_below, low_below)
            entry = measure(target, floor, similarity, same, pair_quality)
            out[variant][name] = entry | {
                "target": {k: v for k, v in vars(target).items() if v is not None}
            }
    return out
