"""Fit the expression network's temperature (attributes.expression.TEMPERATURE).

    python tools/experiments/expression_temperature.py [--fer ../shared/data/fer2013-dev]
        [--model SPEC]

--model: an expression choice as `FaceLens(attribute_models={"expression": SPEC})` takes it,
e.g. the ensemble "mini-xception+faceapi-fer"; its (calibrated, averaged) probabilities get a
further temperature the same way (attributes.expression_choice.ENSEMBLE_TEMPERATURES).

The shipped views (zooms + mirrors) of every FER2013 sample face give averaged class
probabilities; a temperature T (p ** (1/T), renormalised) is fitted by log-loss on one
random half and its calibration error (10 bins) measured on the other, both ways round.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from facelens.attributes.expression import LABELS, MiniXceptionEmotion
from facelens.eval.attributes import calibration_error
from facelens.eval.face_sample import face_points, fer_canvas
from facelens.io import load_image

GRID = np.linspace(0.5, 3.0, 51)


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    scaled = np.power(np.clip(probabilities, 1e-12, None), 1.0 / temperature)
    return scaled / scaled.sum(axis=1, keepdims=True)


def log_loss(probabilities: np.ndarray, truth: np.ndarray) -> float:
    return float(-np.log(np.clip(probabilities[np.arange(len(truth)), truth], 1e-12, 1)).mean())


def ece(probabilities: np.ndarray, truth: np.ndarray) -> float:
    return calibration_error(probabilities.max(axis=1), probabilities.argmax(axis=1) == truth)


def best_temperature(probabilities: np.ndarray, truth: np.ndarray) -> float:
    return float(GRID[np.argmin([log_loss(soften(probabilities, t), truth) for t in GRID])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fer", type=Path, default=Path("../shared/data/fer2013-dev"))
    parser.add_argument(
        "--model", default="", help="An expression choice (default: mini-Xception raw)."
    )
    args = parser.parse_args()
    files = [f for f in sorted(args.fer.glob("*/*.jpg")) if f.parent.name in LABELS]
    truth = np.array([LABELS.index(f.parent.name) for f in files])
    points, _ = face_points(files, fer_canvas)
    if args.model:
        from facelens.attributes.choice import choose
        from facelens.attributes.expression_choice import expression_probabilities

        spec = choose({"expression": args.model}).expression

        def read(rgb: np.ndarray, at: np.ndarray) -> np.ndarray:
            return expression_probabilities(rgb, at, spec, temperature=1.0)
    else:
        read = MiniXceptionEmotion().probabilities
    raw = np.concatenate(
        [read(fer_canvas(load_image(f)), p[None]) for f, p in zip(files, points, strict=True)]
    )
    raw = raw / raw.sum(axis=1, keepdims=True)
    print(f"accuracy {np.mean(raw.argmax(1) == truth):.2%}, mean top probability "
          f"{raw.max(1).mean():.3f}, calibration error {ece(raw, truth):.4f}")  # fmt: skip
    order = np.random.default_rng(0).permutation(len(files))
    halves = (order[::2], order[1::2])
    for fit, test in (halves, halves[::-1]):
        t = best_temperature(raw[fit], truth[fit])
        before, after = ece(raw[test], truth[test]), ece(soften(raw[test], t), truth[test])
        print(f"fitted on one half: T {t:.2f}; other half: {before:.4f} -> {after:.4f}")
    t = best_temperature(raw, truth)
    print(f"all faces: T {t:.2f}, calibration error {ece(soften(raw, t), truth):.4f}")


if __name__ == "__main__":
    main()
