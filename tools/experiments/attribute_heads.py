"""Which age / gender head on which embedding: a sweep on the training set's validation split.

    PYTHONPATH=$PWD python tools/experiments/attribute_heads.py \
        [--data ../shared/data/utkface-train] [--target age|gender|both]

Embeds the folder once (cached, facelens.train.face_embeddings), holds out the seeded 15%
validation split (facelens.train.heads.split) and prints, per configuration, the
validation figures: gender accuracy (by race, children 0-12) or age MAE (children 0-12).
The dev set is never touched here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from facelens.eval.attributes import RACES
from facelens.train import heads
from facelens.train.face_embeddings import embed_folder

EMBEDDERS = ("dlib", "sface", "fused")


def gender_line(faces, valid, female: np.ndarray) -> str:
    right = (female >= 0.5) == faces.female[valid]
    race, age = faces.race[valid], faces.age[valid]
    groups = ", ".join(f"{r} {right[race == i].mean():.1%}" for i, r in enumerate(RACES))
    return f"{right.mean():.2%} ({groups}; 0-12 {right[age <= 12].mean():.1%})"


def age_line(faces, valid, years: np.ndarray) -> str:
    error = np.abs(years - faces.age[valid])
    young = faces.age[valid] <= 12
    return (
        f"MAE {error.mean():.2f} (0-12 {error[young].mean():.2f}, 13+ {error[~young].mean():.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/utkface-train"))
    parser.add_argument("--target", choices=("age", "gender", "both"), default="both")
    args = parser.parse_args()
    faces = embed_folder(args.data)
    train, valid = heads.split(len(faces))
    print(f"{len(faces)} faces ({int(faces.detected.sum())} detected); validation {len(valid)}")
    configs = []
    for embedder in EMBEDDERS:
        for hidden in (0, 256, 512):
            if args.target in ("gender", "both"):
                configs.append(heads.HeadConfig("gender", embedder, hidden))
            if args.target in ("age", "both"):
                for mode in ("classes", "regression"):
                    configs.append(heads.HeadConfig("age", embedder, hidden, mode))
    for config in configs:
        started = time.perf_counter()
        fitted = heads.fit(faces, config, train, valid)
        out = heads.predict(fitted.readout, heads.features(faces, config.embedder)[valid, 0])
        line = (gender_line if config.target == "gender" else age_line)(faces, valid, out)
        spent = time.perf_counter() - started
        mode = f" {config.age_mode}" if config.target == "age" else ""
        print(
            f"{config.target} {config.embedder} hidden {config.hidden}{mode}: {line} "
            f"[{fitted.epochs} epochs, {spent:.0f} s]",
            flush=True,
        )


if __name__ == "__main__":
    main()
