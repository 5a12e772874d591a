"""The image sets the quality model learns from: clean photos and degraded copies of them.

LFW View 2 folds 1-9 (portraits) and the CFP people of one protocol split (frontal and
profile photos: the turned heads LFW lacks); records are computed and cached by
facelens/train/quality_dataset.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from facelens.train import quality_dataset as dataset

# Degraded copies of each training image whose person has another photo: one since the
# recogniser became the fused SFace + dlib pair (2026-11-30; two before), which keeps a
# 2-core retrain within a working session.
DEGRADED_COPIES = 1
# CFP people of this protocol split join the training data; the other split's people stay
# held out for `facelens eval cfp` (its refusal figures).
CFP_TRAINING_SPLIT = 1


@dataclass
class Source:
    """One training image set: clean images, then their degraded copies."""

    name: str  # "lfw" or "cfp": cache tags and reports
    root: Path  # the folder the image names are relative to
    names: list[str]  # the clean images
    variants: list  # clean variants, then degraded ones
    records: list
    cleans: list  # per variant: its clean record (None for the clean ones)

    @property
    def n_clean(self) -> int:
        return len(self.names)


def build_source(name: str, root: Path, names: list[str], workers: int) -> Source:
    """Detect + embed the clean images and DEGRADED_COPIES degradations of each whose person
    has another photo (a clean image without a face found is left out: its label is unsure)."""
    clean_variants = [dataset.Variant(n) for n in names]
    tag = "train" if name == "lfw" else f"{name}_train"  # LFW: its cache tags from before
    clean = dataset.process(root, clean_variants, f"{tag}_clean", workers=workers)
    if name != "lfw":  # LFW keeps its fallback faces, as the model was always trained
        names = [n for n, r in zip(names, clean, strict=True) if r.found]
        clean = [r for r in clean if r.found]
        clean_variants = [dataset.Variant(n) for n in names]
    by_name = dict(zip(names, clean, strict=True))
    counts = Counter(dataset.identity(n) for n in names)
    multi = [n for n in names if counts[dataset.identity(n)] >= 2]
    degraded_variants = dataset.degraded_variants(multi, DEGRADED_COPIES, tag)
    cleans = [by_name[v.name] for v in degraded_variants]
    degraded = dataset.process(root, degraded_variants, f"{tag}_degraded", cleans, workers=workers)
    return Source(
        name,
        root,
        names,
        clean_variants + degraded_variants,
        clean + degraded,
        [None] * len(clean) + cleans,
    )


def sources_for(data: Path, cfp: Path | None, workers: int) -> list[Source]:
    """LFW folds 1-9 and, when given, CFP's training split (profiles: the pose LFW lacks)."""
    lfw = build_source("lfw", data / "images", dataset.fold_images(data, held_out=False), workers)
    if cfp is None:
        return [lfw]
    cfp_names = dataset.cfp_images(cfp, CFP_TRAINING_SPLIT)
    return [lfw, build_source("cfp", cfp, cfp_names, workers)]


def kind_of(source: Source, variant: object, index: int) -> str:
    """Report label: `clean` or the degradation for LFW; `cfp_frontal|profile|degraded`."""
    if source.name == "lfw":
        return "clean" if index < source.n_clean else variant.degradation.kind  # type: ignore[attr-defined]
    if index >= source.n_clean:
        return f"{source.name}_degraded"
    return f"{source.name}_{'profile' if '/profile/' in variant.name else 'frontal'}"  # type: ignore[attr-defined]
