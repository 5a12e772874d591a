"""Named decision policies: a similarity threshold plus quality gates on both photos.

Each policy is defined by a target on LFW (facelens/train/policies.py), and its threshold
is *measured* there by tools/train_quality.py (all pairs among the images of folds 1-9;
fold 10 re-measured as a check) and stored in policies.json:

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

from facelens.errors import ErrorCode, FaceLensError

POLICY_FILE = Path(__file__).with_name("policies.json")


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
    return sorted(_load()["plain"])


def policy_embedder() -> str:
    """The embedder whose similarities the thresholds are (files from before: dlib)."""
    return str(_load().get("embedder", "dlib"))


def get_policy(name: str, flip: bool, embedder: str) -> Policy:
    if embedder != policy_embedder():
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT,
            f"the policies are calibrated for the {policy_embedder()!r} embedder, not "
            f"{embedder!r}: use an operating point instead",
        )
    entries = _load()["flip" if flip else "plain"]
    if name not in entries:
        raise FaceLensError(
            ErrorCode.BAD_ARGUMENT, f"unknown policy {name!r}; choose one of {policy_names()}"
        )
    entry = entries[name]
    return Policy(name, float(entry["threshold"]), float(entry["min_quality"]))
