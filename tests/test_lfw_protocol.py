"""The LFW protocol's arithmetic on exact synthetic cases, and the real pairs file."""

from __future__ import annotations

import numpy as np

from facelens.eval.lfw_pairs import (
    best_threshold,
    read_pairs,
    tar_at_fmr,
    ten_fold_accuracy,
    threshold_at_fmr,
)


def test_read_pairs_standard_view2(data_dir):
    pairs = read_pairs(data_dir / "lfw")
    assert len(pairs) == 6000
    assert sum(p.same for p in pairs) == 3000
    assert {p.fold for p in pairs} == set(range(10))
    assert all((data_dir / "lfw/images" / p.image_a).is_file() for p in pairs[:50])
    first_fold = [p for p in pairs if p.fold == 0]
    assert sum(p.same for p in first_fold) == 300


def test_separable_scores_give_perfect_accuracy():
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3] * 10)
    same = np.array([True, True, True, False, False, False] * 10)
    folds = np.repeat(np.arange(10), 6)
    threshold = best_threshold(scores, same)
    assert 0.3 <= threshold < 0.7
    assert ten_fold_accuracy(scores, same, folds) == (1.0, 0.0)


def test_one_overlap_costs_exactly_one_pair():
    scores = np.array([0.9, 0.8, 0.25, 0.3, 0.1, 0.2])
    same = np.array([True, True, True, False, False, False])
    threshold = best_threshold(scores, same)
    assert np.mean((scores > threshold) == same) == 5 / 6


def test_threshold_at_fmr_counts_false_matches():
    impostors = np.arange(1000) / 1000.0  # 0.000 … 0.999
    threshold = threshold_at_fmr(impostors, 1e-2)
    assert np.sum(impostors > threshold) == 10
    scores = np.concatenate([impostors, [0.995, 0.5]])
    same = np.concatenate([np.zeros(1000, bool), [True, True]])
    tar, _ = tar_at_fmr(scores, same, 1e-2)
    assert tar == 0.5
