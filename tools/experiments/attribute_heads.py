"""Which age / gender head on which embedding: a sweep on the training set's validation split.

    PYTHONPATH=$PWD python tools/experiments/attribute_heads.py \
        [--data ../shared/data/utkface-train] [--target age|gender|both]
    ... --target age --embedders dlib,fused --learning-rates 1e-3,3e-3 [--seeds 5]
        [--blend-with faceapi-utk|faceapi]   (errors: age MAE in years, gender error rate)

Embeds the folder once (cached, facelens.train.face_embeddings), holds out the seeded 15%
validation split (facelens.train.heads.split) and prints, per configuration, the
validation figures: gender accuracy (by race, children 0-12) or age MAE (children 0-12).
The dev set is never touched here.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from facelens.attributes.embedding_head import blend
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
    parser.add_argument(
        "--learning-rates",
        help="Comma-separated: instead of the sweep, the MLP (256 units, age as classes) on "
        "--embedders at each rate, alone and blended with --blend-with as shipped.",
    )
    parser.add_argument("--embedders", default=",".join(EMBEDDERS))
    parser.add_argument("--blend-with", default="faceapi-utk", help="faceapi-utk or faceapi")
    parser.add_argument("--seeds", type=int, default=1, help="Average this many seeds' heads.")
    args = parser.parse_args()
    if args.learning_rates:
        rates(args)
        return
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


def rates(args: argparse.Namespace) -> None:
    """Validation MAE / error of each learning rate, alone and blended (the weight chosen on
    the same split, as `facelens train` chooses it); seeds 0..N-1 averaged."""
    faces = embed_folder(args.data)
    train, valid = heads.split(len(faces))
    targets = ("age", "gender") if args.target == "both" else (args.target,)
    for target, embedder in ((t, e) for t in targets for e in args.embedders.split(",")):
        truth = faces.age[valid] if target == "age" else faces.female[valid]
        crops = faces.crop_years if target == "age" else faces.crop_female
        crop = crops[args.blend_with][valid]
        for rate in (float(r) for r in args.learning_rates.split(",")):
            config = replace(heads.HeadConfig(target, embedder, 256), learning_rate=rate)
            views = heads.features(faces, embedder)[valid, 0]
            fits = [heads.fit(faces, config, train, valid, seed) for seed in range(args.seeds)]
            alone = np.mean([heads.predict(f.readout, views) for f in fits], axis=0)
            weight = heads.crop_weight(config, alone, crop, truth)
            blended = heads.error(config, blend(target, alone, crop, weight), truth)
            print(
                f"{target} {embedder} rate {rate:g}, {args.seeds} seed(s): alone "
                f"{heads.error(config, alone, truth):.4f}, with {args.blend_with} at {weight:g} "
                f"{blended:.4f} [epochs {[f.epochs for f in fits]}]",
                flush=True,
            )


if __name__ == "__main__":
    main()
