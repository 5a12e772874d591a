"""LFW 1:N identification through the gallery store: rank-1, rank-5, DIR at FPIR 1%.

People with two or more images: the first image is enrolled, the others are mated probes.
Single-image people alternate (by sorted name) between gallery distractors (enrolled, so
the gallery is larger than the mated set) and non-mated probes (which measure FPIR).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facelens.eval.lfw import embed_images
from facelens.gallery import open_store
from facelens.gallery.store import Template
from facelens.recognition.embedder import normalise


def split_lfw(names: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(enrolled images, mated probe images, non-mated probe images)."""
    by_person: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        by_person[name.split("/")[0]].append(name)
    enrolled, mated, non_mated = [], [], []
    singles = sorted(p for p, images in by_person.items() if len(images) == 1)
    for images in by_person.values():
        if len(images) > 1:
            enrolled.append(images[0])
            mated.extend(images[1:])
    for i, person in enumerate(singles):
        (enrolled if i % 2 == 0 else non_mated).append(by_person[person][0])
    return enrolled, mated, non_mated


def evaluate_identification(
    data_dir: Path, tick: Callable[[], None] | None = None, fpir: float = 0.01
) -> dict:
    names = sorted(
        str(p.relative_to(data_dir / "images")) for p in (data_dir / "images").glob("*/*.jpg")
    )
    raw, _, undetected = embed_images(data_dir, names, tick)
    vectors = dict(zip(names, normalise(raw), strict=True))
    enrolled, mated, non_mated = split_lfw(names)
    person = {name: name.split("/")[0] for name in names}
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(folder, dim=128)
        store.add_many(
            (person[n], [Template(person=person[n], embedding=vectors[n], content_hash=n)])
            for n in enrolled
        )
        mated_hits = store.search(np.stack([vectors[n] for n in mated]), k=5)
        non_mated_hits = store.search(np.stack([vectors[n] for n in non_mated]), k=1)
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
        "gallery_people": len(enrolled),
        "mated_probes": len(mated),
        "non_mated_probes": len(non_mated),
        "undetected": len(undetected),
    }
