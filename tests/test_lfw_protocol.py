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


def _identification_case() -> dict[str, np.ndarray]:
    """pA enrols e0 and e1 and is probed with e0; pB's templates and probe all sit at
    0.8·e0 + 0.6·e2; so pA's probe scores pA 1.0 (max) or 0.5 (mean) and pB 0.8 either way."""
    basis = np.eye(128, dtype=np.float32)
    near = 0.8 * basis[0] + 0.6 * basis[2]
    return {
        "pA/0.jpg": basis[0],
        "pA/1.jpg": basis[1],
        "pA/2.jpg": basis[0],
        "pB/0.jpg": near,
        "pB/1.jpg": near,
        "pB/2.jpg": near,
        "pC/0.jpg": basis[3],
        "pC/1.jpg": basis[3],
        "s1/0.jpg": basis[4],
        "s2/0.jpg": basis[5],
    }


def test_split_keeps_one_probe_per_person_and_alternates_singles():
    from facelens.eval.identify import split_lfw

    names = list(_identification_case())
    enrolled, mated, non_mated = split_lfw(names, templates=2)
    assert enrolled == ["pA/0.jpg", "pA/1.jpg", "pB/0.jpg", "pB/1.jpg", "pC/0.jpg", "s1/0.jpg"]
    assert mated == ["pA/2.jpg", "pB/2.jpg", "pC/1.jpg"]
    assert non_mated == ["s2/0.jpg"]
    assert split_lfw(names)[1] == ["pA/1.jpg", "pA/2.jpg", "pB/1.jpg", "pB/2.jpg", "pC/1.jpg"]


def test_template_fusion_changes_the_ranking_as_defined():
    from facelens.eval.identify import identification_rates

    vectors = _identification_case()
    by_max = identification_rates(vectors, templates=2, fuse="max")
    by_mean = identification_rates(vectors, templates=2, fuse="mean")
    assert by_max["rank1"] == 1.0 and by_max["dir_at_fpir_0.01"] == 1.0
    assert by_mean["rank1"] == 2 / 3  # pA's probe: pB 0.8 beats pA's mean 0.5
    assert by_mean["rank5"] == 1.0
    assert by_max["fpir_threshold"] == 0.0  # s2 is orthogonal to everything enrolled
    assert (by_max["gallery_people"], by_max["templates"]) == (4, 6)


def test_held_out_tar_uses_other_folds_impostors():
    from facelens.eval.lfw_pairs import held_out_tar

    # genuine pairs at 0.5, impostors at 0.1, except one impostor of fold 0 at 0.6
    same = np.tile([True, False], 10)
    folds = np.repeat([0, 1], 10)
    scores = np.where(same, 0.5, 0.1)
    scores[1] = 0.6
    tar, fmr = held_out_tar(scores, same, folds, 1e-3)
    # fold 0 is judged at fold 1's threshold (0.1): all genuine pass, and 1 of 5 impostors;
    # fold 1 at fold 0's (0.6): no genuine pair passes, no impostor either
    assert tar == (1.0 + 0.0) / 2
    assert fmr == (1 / 5 + 0.0) / 2
