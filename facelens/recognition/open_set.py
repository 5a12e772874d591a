"""Open-set (1:N) thresholds: how similar must the best gallery match be, given its size?

A probe of someone not enrolled, compared with N enrolled templates, has its best score
above t with probability FPIR = 1 − (1 − FMR(t))^N (comparisons taken as independent; with
max fusion the best person score is the best template score). FMR(t) is the impostor tail
measured on LFW (all cross-identity pairs of its 7,701 images, about 29.6 million) and
stored per embedder in impostor_tail.json by `facelens eval identify --embedder NAME
--write-calibration`. A 1:1
threshold is far too lenient for a gallery: at 2,920 templates the `accuracy` point (0.909)
lets 99.5% of strangers through. The same command checks the model on LFW's 1:N protocol.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from facelens.errors import ErrorCode, FaceLensError
from facelens.recognition.operating_points import (
    measured_for,
    operating_points,
    threshold_for,
)

TAIL_FILE = Path(__file__).with_name("impostor_tail.json")
OPEN_SET_POINTS = {"fpir_1e-1": 0.1, "fpir_1e-2": 0.01, "fpir_1e-3": 0.001}
DEFAULT_OPEN_SET_POINT = "fpir_1e-2"
FMR_GRID = np.logspace(-1, -7, 25)  # the tail's resolution: ~3 impostor pairs at 1e-7


@cache
def load_tail() -> dict:
    return json.loads(TAIL_FILE.read_text())


def tail_thresholds(impostor_scores: np.ndarray) -> list[list[float]]:
    """[FMR, threshold] pairs on FMR_GRID from a sample of impostor similarities."""
    thresholds = np.quantile(impostor_scores, 1 - FMR_GRID)  # one sort for the whole grid
    pairs = zip(FMR_GRID, thresholds, strict=True)
    return [[float(f"{f:.4g}"), round(float(t), 5)] for f, t in pairs]


def interpolate(table: list[list[float]], fmr: float) -> float:
    """A tail table's threshold at `fmr`, linear in log FMR, clamped to the measured range."""
    fmrs, thresholds = np.array(table).T
    order = np.argsort(fmrs)  # ascending FMR for np.interp
    return float(np.interp(np.log10(fmr), np.log10(fmrs[order]), thresholds[order]))


def tail_of(embedder: str) -> dict:
    return measured_for(load_tail(), embedder, "impostor tail", "identify")


def threshold_at_fmr(fmr: float, flip: bool, embedder: str) -> float:
    """The stored tail's threshold at `fmr`."""
    return interpolate(tail_of(embedder)["flip" if flip else "plain"], fmr)


def fmr_for(fpir: float, templates: int) -> float:
    """The per-comparison FMR that gives `fpir` over `templates` comparisons."""
    return float(-np.expm1(np.log1p(-fpir) / max(templates, 1)))


def open_set_threshold(operating_point: str, templates: int, flip: bool, embedder: str) -> float:
    """Threshold for a search among `templates` enrolled templates: a 1:N point (`fpir_*`)
    scales with the gallery; a 1:1 point (`accuracy`, `fmr_1e-3`) is used as it is."""
    if operating_point in OPEN_SET_POINTS:
        fmr = fmr_for(OPEN_SET_POINTS[operating_point], templates)
        return threshold_at_fmr(fmr, flip, embedder)
    if operating_point in operating_points(embedder):
        return threshold_for(operating_point, flip, embedder)
    raise FaceLensError(
        ErrorCode.BAD_ARGUMENT,
        f"unknown operating point {operating_point!r}; choose one of "
        f"{sorted(OPEN_SET_POINTS) + operating_points(embedder)}",
    )
