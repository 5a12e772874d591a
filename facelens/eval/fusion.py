"""Choosing the fusion weight without touching the test fold: nested 10-fold evaluation.

For each held-out fold, the weight w and then the threshold are those with the best
accuracy on the other nine folds; the held-out fold is scored with both. TAR at FMR 1e-3 is
held out too: each fold's threshold gives FMR 1e-3 on the other nine folds' impostors (with
w, the score scale moves, so held-out scores of different folds cannot share a threshold).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from facelens.eval.lfw_pairs import best_threshold, threshold_at_fmr

WEIGHT_GRID = tuple(round(0.1 * i, 1) for i in range(31))  # 0 (first network alone) .. 3


def accuracy_at_best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    return float(np.mean((scores > best_threshold(scores, same)) == same))


def best_weight(table: np.ndarray, same: np.ndarray, grid: tuple[float, ...]) -> float:
    """The grid weight with the best accuracy (ties: the middle of the best ones)."""
    accuracies = np.array([accuracy_at_best_threshold(scores, same) for scores in table])
    best = np.flatnonzero(accuracies == accuracies.max())
    return grid[best[len(best) // 2]]


def nested_fusion(
    scores_at: Callable[[float], np.ndarray],
    same: np.ndarray,
    folds: np.ndarray,
    grid: tuple[float, ...] = WEIGHT_GRID,
) -> dict:
    """Held-out accuracy and TAR at FMR 1e-3 with w and the threshold fitted per fold."""
    table = np.stack([scores_at(w) for w in grid])
    accuracies, weights, tars, fmrs = [], [], [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        weight = best_weight(table[:, train], same[train], grid)
        scores = table[grid.index(weight)]
        threshold = best_threshold(scores[train], same[train])
        accuracies.append(float(np.mean((scores[test] > threshold) == same[test])))
        weights.append(weight)
        at_fmr = threshold_at_fmr(scores[train & ~same], 1e-3)
        tars.append(float(np.mean(scores[test & same] > at_fmr)))
        fmrs.append(float(np.mean(scores[test & ~same] > at_fmr)))
    return {
        "accuracy": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "tar_at_fmr_1e-3_held_out": float(np.mean(tars)),
        "held_out_fmr": float(np.mean(fmrs)),
        "weights_per_fold": weights,
        "weight_all_folds": best_weight(table, same, grid),
    }
