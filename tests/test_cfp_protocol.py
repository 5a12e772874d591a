"""CFP's protocol files as facelens reads them, and the evaluation arithmetic on exact cases."""

from __future__ import annotations

from collections import Counter

import numpy as np

from facelens.eval.cfp import (
    FAILED_SCORE,
    CfpPair,
    all_cross_pose_pairs,
    at_threshold,
    cross_split,
    photos_by_split,
    read_cfp,
    read_image_list,
)
from facelens.eval.fusion import nested_fusion


def identity(path: str) -> str:
    return path.split("/")[1]  # Images/NNN/...


def test_read_cfp_dev(data_dir):
    cfp = data_dir / "cfp-dev"
    frontal = read_image_list(cfp / "Protocol/Pair_list_F.txt")
    assert len(frontal) == 1000 and frontal[1] == "Images/001/frontal/01.jpg"
    pairs = read_cfp(cfp)
    counts = Counter((p.protocol, p.split, p.same) for p in pairs)
    assert counts == {(pr, s, same): 350 for pr in ("FF", "FP") for s in (1, 2) for same in (1, 0)}
    for pair in pairs:
        assert "/frontal/" in pair.first
        assert ("/profile/" if pair.protocol == "FP" else "/frontal/") in pair.second
        assert (identity(pair.first) == identity(pair.second)) == pair.same
    people = {s: {identity(p.first) for p in pairs if p.split == s} for s in (1, 2)}
    assert not people[1] & people[2]  # the splits hold disjoint people
    images = {p.first for p in pairs} | {p.second for p in pairs}
    assert all((cfp / name).is_file() for name in sorted(images)[::50])


def test_failed_pairs_are_rejected_and_counted():
    # two splits of 4 pairs; scores separate perfectly at 0.5 when faces are found
    scores = np.array([0.9, 0.8, 0.2, 0.1, 0.9, 0.8, 0.2, 0.1])
    same = np.array([1, 1, 0, 0, 1, 1, 0, 0], bool)
    splits = np.array([1, 1, 1, 1, 2, 2, 2, 2])
    failed = np.zeros(8, bool)
    failed[[4, 6]] = True  # split 2: one genuine and one impostor pair without a face
    scored = np.where(failed, FAILED_SCORE, scores)
    rows = cross_split(scored, same, splits, failed)
    # split 2 rejects both failed pairs: the genuine one is wrong, the impostor one right
    np.testing.assert_allclose(rows[:, 0], [1.0, 0.75])
    np.testing.assert_allclose(rows[:, 1], [1.0, 0.5])  # failed pairs counted as errors
    np.testing.assert_allclose(rows[:, 2], [1.0, 1.0])  # pairs with both faces only


def test_nested_fusion_finds_the_informative_network():
    rng = np.random.default_rng(1)
    same = np.tile([True, False], 500)
    folds = np.repeat(np.arange(10), 100)
    noise = rng.uniform(size=1000)  # the first network knows nothing
    exact = np.where(same, 0.8, 0.2)  # the second separates perfectly

    def scores_at(weight: float) -> np.ndarray:
        return (noise + weight**2 * exact) / (1 + weight**2)

    result = nested_fusion(scores_at, same, folds)
    assert result["accuracy"] == 1.0 and result["tar_at_fmr_1e-3_held_out"] == 1.0
    assert min(result["weights_per_fold"]) > 0 and result["weight_all_folds"] > 0


def test_verify_threshold_figures_split_refused_from_decided_pairs():
    scores = np.array([0.9, 0.6, 0.8, 0.2, 0.9, 0.1])
    same = np.array([True, True, False, False, True, False])
    splits = np.array([1, 1, 1, 1, 2, 2])
    refused = np.array([False, True, True, False, False, False])
    figures = at_threshold(scores, same, splits, refused, 0.7)
    # split 1: pair 2 (genuine at 0.6) and pair 3 (impostor at 0.8) are wrong, both refused
    assert figures[1] == {"accuracy": 0.5, "accuracy_refused": 0.0, "accuracy_decided": 1.0}
    assert figures[2] == {"accuracy": 1.0, "accuracy_refused": None, "accuracy_decided": 1.0}


def test_photos_by_split_counts_each_person_once_per_kind():
    pairs = [
        CfpPair("FP", 1, "Images/001/frontal/01.jpg", "Images/001/profile/01.jpg", True),
        CfpPair("FF", 1, "Images/001/frontal/01.jpg", "Images/002/frontal/01.jpg", False),
        CfpPair("FP", 2, "Images/051/frontal/01.jpg", "Images/051/profile/02.jpg", True),
    ]
    images = sorted({p.first for p in pairs} | {p.second for p in pairs})
    # 001/frontal, 001/profile, 002/frontal, 051/frontal, 051/profile
    embedded = {
        "detected": np.array([True, True, True, True, False]),
        "retake": np.array([False, True, True, False, False]),
        "eyes_covered": np.array([0.1, 0.9, 0.6, 0.2, 0.0], np.float32),
    }
    out = photos_by_split(pairs, images, embedded)
    assert out["1"]["frontal"] == {"photos": 2, "retake": 0.5, "eyes_covered": 0.5}
    assert out["1"]["profile"] == {"photos": 1, "retake": 1.0, "eyes_covered": 1.0}
    assert out["2"]["frontal"] == {"photos": 1, "retake": 0.0, "eyes_covered": 0.0}
    assert out["2"]["profile"] == {"photos": 0, "retake": None, "eyes_covered": None}


def test_all_cross_pose_pairs_on_exact_vectors():
    """Two people of one split: each profile against each frontal photo. Vectors are unit
    vectors at known angles, so every cosine is known."""
    pairs = [
        CfpPair("FP", 1, "Images/001/frontal/01.jpg", "Images/001/profile/01.jpg", True),
        CfpPair("FP", 1, "Images/002/frontal/01.jpg", "Images/002/profile/01.jpg", True),
    ]
    images = sorted({p.first for p in pairs} | {p.second for p in pairs})
    # 001/frontal, 001/profile, 002/frontal, 002/profile
    angle = np.radians([0.0, 30.0, 60.0, 150.0])
    embedded = {
        "detected": np.ones(4, bool),
        "vectors": np.stack([np.cos(angle), np.sin(angle)], 1).astype(np.float32),
    }
    out = all_cross_pose_pairs(pairs, images, embedded, threshold=0.6)["1"]
    # genuine: cos 30° = 0.866 (passes), cos 90° = 0 (fails); impostors: cos 30° (001
    # profile vs 002 frontal) = 0.866 passes, cos 150° = -0.866 does not
    assert out["genuine_pairs"] == 2 and out["impostor_pairs"] == 2
    assert out["fnmr"] == 0.5 and out["fmr"] == 0.5
    assert abs(out["threshold_at_fmr_1e-3"] - np.cos(np.radians(30))) < 1e-6
