"""Face image quality: can this face be trusted for recognition?

`assess_quality` gives every detected face a unified score in [0, 1] (learned from
recognition utility, SDD-FIQA style), a band, a verdict (ok / low / retake), the reasons in
plain words, ISO/IEC 29794-5-style component measures (raw and 0-100), the region whose
pixels are trustworthy and, on request, a heat map of what raises or lowers the score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facelens.detection.detector import FoundFaces
from facelens.quality import components, model, stability
from facelens.quality.measure import Measurements, measure
from facelens.quality.params import params as stored_params
from facelens.types import Quality, QualityComponent

__all__ = ["QualityConfig", "assess_quality", "scores_from_raw"]

# Perturbations whose embeddings measure stability at run time: the chip itself plus one
# combined flip + shift + zoom + noise copy (one extra network input per face, see README).
PERTURBATIONS_AT_RUNTIME = ("identity", "composite")


@dataclass(frozen=True)
class QualityConfig:
    """Bands and verdict thresholds (defaults from model.json, fitted on LFW)."""

    green: float = 0.8
    yellow: float = 0.6
    orange: float = 0.4
    retake_below: float = field(default_factory=lambda: _verdict("retake_below", 0.3))
    low_below: float = field(default_factory=lambda: _verdict("low_below", 0.6))
    # A component this bad (0-100) forces `retake` whatever the unified score says.
    floors: dict[str, float] = field(default_factory=lambda: dict(_verdict("floors", {})))
    reason_below: float = 50.0  # a component under this score is named as a reason

    def band(self, score: float) -> str:
        if score >= self.green:
            return "green"
        if score >= self.yellow:
            return "yellow"
        return "orange" if score >= self.orange else "red"


def _verdict(key: str, default: object) -> object:
    return stored_params().get("verdict", {}).get(key, default)


def stability_of(chips: np.ndarray, embedder: object) -> tuple[np.ndarray, np.ndarray]:
    """(N,) embedding stability of the chips, and (N, D) the chips' own unit embeddings: all
    perturbed copies in one network call."""
    batch = stability.perturb(chips, PERTURBATIONS_AT_RUNTIME)
    vectors = stability.run_embedder(embedder, batch).reshape(
        len(PERTURBATIONS_AT_RUNTIME), len(chips), -1
    )
    return stability.stability(vectors), vectors[PERTURBATIONS_AT_RUNTIME.index("identity")]


def scores_from_raw(raw: dict[str, np.ndarray]) -> tuple[np.ndarray, dict, dict]:
    """Unified score (N,), component scores and penalties, from raw measures."""
    scores = components.normalise(raw)
    unified, pulls = model.unified(scores)
    return unified, scores, pulls


def assess_quality(
    rgb: np.ndarray,
    faces: FoundFaces,
    embedder: object,
    heatmap: bool = False,
    config: QualityConfig | None = None,
) -> list[Quality]:
    """Quality of every face in `faces` (found in the RGB image `rgb`), batched."""
    config = config or QualityConfig()
    if len(faces) == 0:
        return []
    measured = measure(rgb, faces, embedder.template)  # type: ignore[attr-defined]
    measured.raw["embedding_stability"], vectors = stability_of(measured.chips, embedder)
    unified, scores, pulls = scores_from_raw(measured.raw)
    from facelens.quality.roi import trusted_regions

    rois = trusted_regions(measured, scores)
    maps = None
    if heatmap:
        from facelens.quality.heatmap import heatmaps

        maps = heatmaps(measured)
    out = []
    for i in range(len(faces)):
        quality = _judge(i, float(unified[i]), measured, scores, pulls, config)
        quality.roi = rois[i]
        quality._chip_matrix = measured.matrices[i]
        quality._embedding = vectors[i]
        if maps is not None:
            quality._heatmap = maps[i]
        out.append(quality)
    return out


def _judge(
    i: int,
    score: float,
    measured: Measurements,
    scores: dict[str, np.ndarray],
    pulls: dict[str, np.ndarray],
    config: QualityConfig,
) -> Quality:
    raw = {name: float(values[i]) for name, values in measured.raw.items()}
    # Reasons: components below the bar, the ones that cost the most score first.
    weak = [n for n in components.NAMES if scores[n][i] < config.reason_below]
    weak.sort(key=lambda n: -float(pulls.get(n, np.zeros(i + 1))[i]))
    reasons = list(dict.fromkeys(components.reason(n, raw[n]) for n in weak))
    floored = [n for n, floor in config.floors.items() if scores[n][i] < floor]
    if score < config.retake_below or floored:
        verdict = "retake"
    elif score < config.low_below:
        verdict = "low"
    else:
        verdict = "ok"
    return Quality(
        score=round(float(np.clip(score, 0, 1)), 4),
        band=config.band(score),  # type: ignore[arg-type]
        verdict=verdict,  # type: ignore[arg-type]
        reasons=reasons,
        components={
            n: QualityComponent(raw=round(raw[n], 4), score=round(float(scores[n][i]), 1))
            for n in components.NAMES
        },
    )
