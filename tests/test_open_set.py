"""Open-set thresholds: 1:N operating points that grow with the gallery."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from facelens.errors import FaceLensError
from facelens.recognition.names import EMBEDDER_NAMES
from facelens.recognition.open_set import (
    fmr_for,
    load_tail,
    open_set_threshold,
    tail_thresholds,
    threshold_at_fmr,
)
from facelens.recognition.operating_points import threshold_for


def test_fmr_for_inverts_the_independence_model() -> None:
    assert fmr_for(0.01, 1) == pytest.approx(0.01)
    fmr = fmr_for(0.01, 2920)
    assert 1 - (1 - fmr) ** 2920 == pytest.approx(0.01, rel=1e-9)
    assert fmr_for(0.01, 0) == pytest.approx(0.01)  # an empty gallery counts as one template


def test_tail_thresholds_are_quantiles() -> None:
    scores = np.linspace(0.0, 1.0, 10_001)
    table = dict((round(f, 6), t) for f, t in tail_thresholds(scores))
    assert table[0.1] == pytest.approx(0.9, abs=1e-4)
    assert table[0.01] == pytest.approx(0.99, abs=1e-4)


@pytest.mark.parametrize("embedder", EMBEDDER_NAMES)
def test_thresholds_grow_with_the_gallery_and_match_the_table(embedder: str) -> None:
    one = open_set_threshold("fpir_1e-2", 1, False, embedder)
    stored = dict(map(tuple, load_tail()[embedder]["plain"]))
    assert one == pytest.approx(stored[0.01])  # one template: FPIR is FMR
    sizes = [1, 10, 100, 1_000, 10_000, 100_000]
    thresholds = [open_set_threshold("fpir_1e-2", n, False, embedder) for n in sizes]
    assert all(a < b for a, b in pairwise(thresholds))
    assert open_set_threshold("fpir_1e-3", 1_000, False, embedder) > thresholds[3]
    assert open_set_threshold("fpir_1e-1", 1_000, False, embedder) < thresholds[3]
    # far beyond the measured tail the threshold stays at its last measured value
    far, last = (threshold_at_fmr(fmr, False, embedder) for fmr in (1e-12, 1e-7))
    assert far == pytest.approx(last)
    # a 1:1 point passes through as it is
    assert open_set_threshold("accuracy", 5_000, True, embedder) == threshold_for(
        "accuracy", True, embedder
    )


def test_unknown_names_fail() -> None:
    with pytest.raises(FaceLensError) as error:
        open_set_threshold("fpir_5", 10, False, "sface")
    assert error.value.code.value == "bad_argument" and "fpir_1e-2" in error.value.message
    with pytest.raises(FaceLensError) as error:
        open_set_threshold("fpir_1e-2", 10, False, "arcface")
    assert "arcface" in error.value.message and "--write-calibration" in error.value.message
