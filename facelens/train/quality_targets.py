"""What the quality model learns to predict, and where its `retake` verdict starts.

SDD-FIQA targets (Ou et al., CVPR 2021): per image, the Wasserstein distance between its
genuine similarities (against the other clean photos of the person) and its impostor
similarities (against up to IMPOSTORS fixed photos of other people of the same data set);
and each image's FNMR at `verify`'s default threshold, from which the retake cut is measured.
"""

from __future__ import annotations

import itertools

import numpy as np

from facelens.recognition.names import DEFAULT_EMBEDDER
from facelens.recognition.operating_points import DEFAULT_OPERATING_POINT, threshold_for
from facelens.train import quality_dataset as dataset
from facelens.train.quality_sources import Source

SEED = 0
IMPOSTORS = 600
RETAKE_BIN = 0.05
RETAKE_FNMR = 0.5  # faces at the retake cut: a genuine comparison fails this often


def sdd_targets(source: Source) -> tuple[np.ndarray, np.ndarray]:
    """Per variant (NaN when the person has no other photo): the Wasserstein distance between
    its genuine and impostor similarities, and its FNMR (share of genuine similarities at or
    below `verify`'s default threshold); genuine and impostor photos from the same source."""
    threshold = threshold_for(DEFAULT_OPERATING_POINT, False, DEFAULT_EMBEDDER)
    rng = np.random.default_rng(SEED)
    variants, records, clean_names = source.variants, source.records, source.names
    clean = np.stack([r.recognition[0] for r in records[: len(clean_names)]]).astype(np.float32)
    people = np.array([dataset.identity(n) for n in clean_names])
    by_person: dict[str, list[int]] = {}
    for i, person in enumerate(people):
        by_person.setdefault(person, []).append(i)
    index = {n: i for i, n in enumerate(clean_names)}
    pool = rng.choice(len(clean_names), min(IMPOSTORS, len(clean_names)), replace=False)
    quantiles = np.linspace(0.005, 0.995, 100)
    out, fnmr = np.full(len(variants), np.nan), np.full(len(variants), np.nan)
    for k, (variant, record) in enumerate(zip(variants, records, strict=True)):
        person = dataset.identity(variant.name)
        mates = [j for j in by_person[person] if j != index[variant.name]]
        if not mates:
            continue
        vector = record.recognition[0].astype(np.float32)
        genuine = clean[mates] @ vector
        impostor = clean[pool[people[pool] != person]] @ vector
        # W1 between two 1-D samples = mean gap between their quantile functions
        out[k] = np.mean(np.abs(np.quantile(genuine, quantiles) - np.quantile(impostor, quantiles)))
        fnmr[k] = np.mean(genuine <= threshold)
    return out, fnmr


def calibrate_retake(quality: np.ndarray, fnmr: np.ndarray) -> float:
    """The retake cut: the top of the highest score bin (RETAKE_BIN wide, >= 20 faces) whose
    faces fail at least RETAKE_FNMR of their genuine comparisons on average. A face refused is
    one the recogniser would more likely miss than match, whatever the reason (blur, a turned
    head the network cannot handle...); 0 when no bin fails that often."""
    usable = ~np.isnan(fnmr)
    quality, fnmr = quality[usable], fnmr[usable]
    edges = np.round(np.arange(0, 1 + RETAKE_BIN / 2, RETAKE_BIN), 2)
    cut = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (quality >= low) & (quality < high)
        if inside.sum() >= 20 and fnmr[inside].mean() >= RETAKE_FNMR:
            cut = float(high)
    return cut
