"""LFW View 2 pairs: parsing and the standard 10-fold protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Pair:
    image_a: str  # relative path under images/
    image_b: str
    same: bool
    fold: int  # 0..9


def read_pairs(lfw_dir: Path) -> list[Pair]:
    lines = (lfw_dir / "pairs.txt").read_text().splitlines()
    folds, per_fold = (int(v) for v in lines[0].split())
    pairs: list[Pair] = []
    for index, line in enumerate(lines[1 : 1 + folds * 2 * per_fold]):
        parts = line.split()
        fold = index // (2 * per_fold)
        if len(parts) == 3:
            name, i, j = parts
            pairs.append(Pair(_image(name, i), _image(name, j), True, fold))
        else:
            name_a, i, name_b, j = parts
            pairs.append(Pair(_image(name_a, i), _image(name_b, j), False, fold))
    return pairs


def _image(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the highest accuracy (ties: the middle of the best run)."""
    order = np.sort(scores)
    candidates = np.concatenate(
        [[order[0] - 1e-6], (order[1:] + order[:-1]) / 2, [order[-1] + 1e-6]]
    )
    # accuracy(t) = (#same with score > t + #different with score <= t) / n, vectorised
    same_scores = np.sort(scores[same])
    diff_scores = np.sort(scores[~same])
    true_accepts = len(same_scores) - np.searchsorted(same_scores, candidates, side="right")
    true_rejects = np.searchsorted(diff_scores, candidates, side="right")
    accuracy = (true_accepts + true_rejects) / len(scores)
    best = np.flatnonzero(accuracy == accuracy.max())
    return float(candidates[best[len(best) // 2]])


def ten_fold_accuracy(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray
) -> tuple[float, float]:
    """Mean and std of the held-out accuracy, each fold's threshold fitted on the other nine."""
    accuracies = []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        threshold = best_threshold(scores[train], same[train])
        accuracies.append(float(np.mean((scores[test] > threshold) == same[test])))
    return float(np.mean(accuracies)), float(np.std(accuracies))


def threshold_at_fmr(impostor_scores: np.ndarray, fmr: float) -> float:
    """The lowest threshold whose false-match rate (score > threshold) is at most `fmr`."""
    ordered = np.sort(impostor_scores)[::-1]
    allowed = int(np.floor(fmr * len(ordered)))
    return float(ordered[allowed]) if allowed < len(ordered) else float(ordered[-1])


def tar_at_fmr(scores: np.ndarray, same: np.ndarray, fmr: float) -> tuple[float, float]:
    """(true-accept rate, threshold) at the given false-match rate."""
    threshold = threshold_at_fmr(scores[~same], fmr)
    return float(np.mean(scores[same] > threshold)), threshold


def held_out_tar(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray, fmr: float
) -> tuple[float, float]:
    """(TAR, realised FMR) on held-out folds, each at the threshold giving `fmr` on the
    impostors of the other nine: the cross-validated counterpart of `tar_at_fmr`."""
    tars, fmrs = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        threshold = threshold_at_fmr(scores[train & ~same], fmr)
        tars.append(float(np.mean(scores[test & same] > threshold)))
        fmrs.append(float(np.mean(scores[test & ~same] > threshold)))
    return float(np.mean(tars)), float(np.mean(fmrs))
