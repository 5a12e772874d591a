"""Named decision policies: a similarity threshold plus quality gates on both photos.

Each policy is defined by a target on LFW, and its threshold is *measured* there by
tools/train_quality.py (all pairs among the images of folds 1-9; fold 10 re-measured as a
check) and stored in policies.json:

- strict (access, attendance; few false accepts): both faces must be `ok`; the threshold
  gives FMR = 1e-4 among such pairs.
- lenient (search, watch lists; few misses): only `retake` faces are refused; the threshold
  keeps FNMR at 1% among the remaining pairs.
- identity_check (document vs selfie): both photos must score ≥ 0.8 (green); the threshold
  gives FMR = 1e-3 among such pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.lfw_pairs import threshold_at_fmr

POLICY_FILE = Path(__file__).with_name("policies.json")


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


@dataclass(frozen=True)
class Policy:
    name: str
    threshold: float
    min_quality: float  # a face below this score is refused: status retake, no decision


@cache
def _load() -> dict:
    if not POLICY_FILE.is_file():
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, "policies.json is missing: run tools/train_quality.py"
        )
    return json.loads(POLICY_FILE.read_text())


def policy_names() -> list[str]:
    return sorted(TARGETS)


def get_policy(name: str, flip: bool) -> Policy:
    entries = _load()["flip" if flip else "plain"]
    if name not in entries:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"unknown policy {name!r}; choose one of {policy_names()}"
        )
    entry = entries[name]
    return Policy(name, float(entry["threshold"]), float(entry["min_quality"]))


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
