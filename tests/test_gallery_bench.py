"""The gallery benchmark's vector models: fitted to real scatter, and the exact-search check."""

import numpy as np

from facelens.eval.gallery_bench import (
    describe,
    exact_topk,
    fit_identities,
    probes,
    recall,
    spectrum_identities,
    synthetic,
)


def test_fit_recovers_known_between_and_within_covariance() -> None:
    rng = np.random.default_rng(3)
    dim, people, each = 6, 3000, 4
    between = np.diag([1.0, 0.8, 0.6, 0.4, 0.2, 0.1])
    within = np.diag([0.05, 0.3, 0.05, 0.2, 0.05, 0.1])
    centres = rng.standard_normal((people, dim)) @ between.T
    x = np.repeat(centres, each, 0) + rng.standard_normal((people * each, dim)) @ within.T
    labels = [f"p{i}" for i in range(people) for _ in range(each)]
    model = fit_identities(x, labels)
    assert np.allclose(model.within @ model.within.T, within @ within.T, atol=0.01)
    # between = total − within: looser, as 3,000 drawn centres only estimate it
    assert np.allclose(model.between @ model.between.T, between @ between.T, atol=0.06)
    assert np.allclose(model.mean, 0, atol=0.05)


def test_fitted_vectors_keep_genuine_and_impostor_similarity() -> None:
    rng = np.random.default_rng(4)
    dim, people, each = 32, 500, 4
    mean = np.full(dim, 0.3)
    centres = mean + rng.standard_normal((people, dim)) * 0.25
    real = centres.repeat(each, 0) + rng.standard_normal((people * each, dim)) * 0.08
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    labels = np.arange(people).repeat(each)

    def cosines(x: np.ndarray, lab: np.ndarray) -> tuple[float, float]:
        sim = x @ x.T
        same = lab[:, None] == lab[None, :]
        off = ~np.eye(len(x), dtype=bool)
        return float(np.median(sim[same & off])), float(np.median(sim[~same]))

    model = fit_identities(real, [str(v) for v in labels])
    fake, fake_labels, fitted_centres = synthetic(people * each, each, model, seed=0)
    genuine, impostor = cosines(real, labels)
    fake_genuine, fake_impostor = cosines(fake, fake_labels)
    assert abs(fake_genuine - genuine) < 0.02 and abs(fake_impostor - impostor) < 0.02
    probe, probe_people = probes(fitted_centres, 50, model, seed=0)
    assert np.allclose(np.linalg.norm(probe, axis=1), 1, atol=1e-5)
    # exact search finds each probe's own templates first: the mates fill the top `each`
    top = exact_topk(fake, probe, each).tolist()
    mates = [np.flatnonzero(fake_labels == p).tolist() for p in probe_people]
    assert recall(top, mates, each) > 0.95


def test_spectrum_model_is_unit_and_clustered() -> None:
    model = spectrum_identities(16, noise=0.8, decay=1.0)
    x, labels, _ = synthetic(2000, 5, model, seed=0)
    assert x.shape == (2000, 16) and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    sim = x @ x.T
    same = (labels[:, None] == labels[None, :]) & ~np.eye(2000, dtype=bool)
    assert np.median(sim[same]) > np.median(sim[~same]) + 0.3


def test_describe_measures_cosines_and_dimension() -> None:
    # two people, two axes each: same-person cosine 1, other-person 0, two equal variances
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    stats = describe(vectors, np.array([0, 0, 1, 1]))
    assert stats["genuine_median"] == 1.0 and stats["impostor_median"] == 0.0
    assert stats["dimension"] == 1.0  # the covariance has one non-zero direction (1, -1)
