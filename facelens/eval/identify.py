"""LFW 1:N identification through the gallery store: rank-1, rank-5, DIR at FPIR 1%.

People with two or more images: the first image is enrolled, the others are mated probes.
Single-image people alternate (by sorted name) between gallery distractors (enrolled, so
the gallery is larger than the mated set) and non-mated probes (which measure FPIR).
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facelens.eval.lfw import embedder_vectors, image_names
from facelens.gallery import open_store
from facelens.gallery.store import Fuse, Template
from facelens.recognition.open_set import (
    OPEN_SET_POINTS,
    TAIL_FILE,
    fmr_for,
    interpolate,
    load_tail,
    tail_thresholds,
)
from facelens.recognition.operating_points import operating_points, threshold_for


def split_lfw(names: list[str], templates: int = 1) -> tuple[list[str], list[str], list[str]]:
    """(enrolled images, mated probe images, non-mated probe images).

    A person with several images enrols up to `templates` of them, always keeping one back
    as a probe."""
    by_person: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        by_person[name.split("/")[0]].append(name)
    enrolled, mated, non_mated = [], [], []
    singles = sorted(p for p, images in by_person.items() if len(images) == 1)
    for images in by_person.values():
        if len(images) > 1:
            kept = min(templates, len(images) - 1)
            enrolled.extend(images[:kept])
            mated.extend(images[kept:])
    for i, person in enumerate(singles):
        (enrolled if i % 2 == 0 else non_mated).append(by_person[person][0])
    return enrolled, mated, non_mated


def identification_rates(
    vectors: dict[str, np.ndarray], templates: int = 1, fuse: Fuse = "max", fpir: float = 0.01
) -> dict:
    """Rank-1, rank-5 and DIR at `fpir` for one enrolment protocol over embedded images."""
    enrolled, mated, non_mated = split_lfw(list(vectors), templates)
    person = {name: name.split("/")[0] for name in vectors}
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(folder, dim=len(next(iter(vectors.values()))))
        by_person: dict[str, list[Template]] = defaultdict(list)
        for n in enrolled:
            by_person[person[n]].append(
                Template(person=person[n], embedding=vectors[n], content_hash=n)
            )
        store.add_many(by_person.items())
        mated_hits = store.search(np.stack([vectors[n] for n in mated]), k=5, fuse=fuse)
        non_mated_hits = store.search(np.stack([vectors[n] for n in non_mated]), k=1, fuse=fuse)
        store.close()
    truth = [person[n] for n in mated]
    rank1 = np.mean([hits[0].person == t for hits, t in zip(mated_hits, truth, strict=True)])
    rank5 = np.mean(
        [t in {h.person for h in hits} for hits, t in zip(mated_hits, truth, strict=True)]
    )
    impostor_top = np.sort([hits[0].similarity for hits in non_mated_hits])[::-1]
    threshold = float(impostor_top[int(np.floor(fpir * len(impostor_top)))])
    dir_at_fpir = np.mean(
        [
            hits[0].person == t and hits[0].similarity > threshold
            for hits, t in zip(mated_hits, truth, strict=True)
        ]
    )
    return {
        "rank1": float(rank1),
        "rank5": float(rank5),
        f"dir_at_fpir_{fpir:g}": float(dir_at_fpir),
        "fpir_threshold": threshold,
        "gallery_people": len(by_person),
        "templates": len(enrolled),
        "mated_probes": len(mated),
        "non_mated_probes": len(non_mated),
    }


def evaluate_identification(
    data_dir: Path,
    tick: Callable[[], None] | None = None,
    fpir: float = 0.01,
    write_calibration: bool = False,
    embedder: str = "dlib",
) -> dict:
    """The one-template protocol's figures at the top level; under `fusion` the
    two-template protocol (people with 3+ images enrol two) with max and mean fusion; under
    `flip` the one-template protocol with flip-fused embeddings; under `open_set_check` the
    open-set model's thresholds against the measured ones (`write_calibration`: store the
    impostor tail that model uses, under the embedder's name in recognition/impostor_tail.json)."""
    names = image_names(data_dir)
    unit, undetected = embedder_vectors(data_dir, names, tick, embedder)
    vectors = dict(zip(names, unit["plain"], strict=True))
    report = identification_rates(vectors, 1, "max", fpir)
    report["embedder"] = embedder
    report["undetected"] = len(undetected)
    report["fusion"] = {
        fuse: identification_rates(vectors, 2, fuse, fpir) for fuse in ("max", "mean")
    }
    # FaceLens(flip=True): each embedding fused with its mirror image's, as `embed --flip`
    flipped = dict(zip(names, unit["flip"], strict=True))
    report["flip"] = identification_rates(flipped, 1, "max", fpir)
    tail = {
        "plain": tail_thresholds(impostor_scores(vectors)),
        "flip": tail_thresholds(impostor_scores(flipped)),
        "measured_on": f"LFW, all cross-identity pairs of {len(names)} images; "
        f"facelens eval identify --embedder {embedder} --write-calibration",
    }
    report["open_set_check"] = open_set_check(vectors, tail["plain"], embedder)
    if write_calibration:
        tails = json.loads(TAIL_FILE.read_text())
        tails[embedder] = tail
        TAIL_FILE.write_text(json.dumps(tails, indent=1) + "\n")
        load_tail.cache_clear()
    return report


def impostor_scores(vectors: dict[str, np.ndarray]) -> np.ndarray:
    """Cosine similarity of every pair of images of different people (chunked)."""
    names = list(vectors)
    matrix = np.stack([vectors[n] for n in names])
    people = np.array([n.split("/")[0] for n in names])
    scores = []
    for start in range(0, len(names), 512):
        rows = slice(start, start + 512)
        block = matrix[rows] @ matrix.T
        later = np.arange(len(names))[None] > np.arange(len(names))[rows, None]
        scores.append(block[later & (people[rows, None] != people[None])])
    return np.concatenate(scores)


def open_set_check(vectors: dict[str, np.ndarray], table: list[list[float]], embedder: str) -> dict:
    """Thresholds the open-set model predicts for this protocol's gallery (one template per
    enrolled person) against those measured on its non-mated probes, and the share of those
    probes that the 1:1 operating points would match to someone."""
    enrolled, _, non_mated = split_lfw(list(vectors), 1)
    gallery = np.stack([vectors[n] for n in enrolled])
    top = np.sort((np.stack([vectors[n] for n in non_mated]) @ gallery.T).max(axis=1))[::-1]
    out = {"templates": len(enrolled), "non_mated_probes": len(non_mated)}
    for name, fpir in OPEN_SET_POINTS.items():
        predicted = interpolate(table, fmr_for(fpir, len(enrolled)))
        measured = float(top[int(np.floor(fpir * len(top)))])
        out[name] = {"predicted": round(predicted, 4), "measured": round(measured, 4)}
    # what the 1:1 verification thresholds would let through at this gallery size
    out["fpir_at_one_to_one_points"] = {
        point: round(float(np.mean(top > threshold_for(point, False, embedder))), 4)
        for point in operating_points(embedder)
    }
    return out
