"""The checks behind the README's "Expression trained here" and "Expression ensembles" notes.

    python tools/experiments/expression_checks.py --network expression.onnx [--learning-rate]
        [--train ../shared/data/fer2013-train] [--fer ../shared/data/fer2013-dev]

--network: a file from `facelens train expression` (the README's 35-epoch command). Printed:
1. On that run's validation split of fer2013-train (seed 0, 10%, never trained on by the
   network), through the runtime's face finding: mini-Xception's accuracy (far above its
   fer2013-dev figure: it has seen these images) and the network's, with one crop + mirror
   (shipped) and with mini-Xception's zoom views (0.95 and 1.05, each mirrored).
2. The same two view sets on fer2013-dev, and the ensemble "mini-xception+network": its
   accuracy and calibration error, and a temperature fitted on one random half of
   fer2013-dev measured on the other, both ways round.
3. With --learning-rate: 3 epochs on a seeded 6,000-face subset of the training split, no
   augmentation, at batch 64 / 1e-3 (the shipped setting) and batch 128 / 2e-3 (the earlier).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from facelens.attributes.crops import zoomed
from facelens.attributes.expression import LABELS, MiniXceptionEmotion, calibrate
from facelens.attributes.expression_net import FRAME_48, TrainedExpression
from facelens.eval.face_sample import central_faces, fer_canvas
from facelens.io import load_image
from facelens.train import expression
from tools.experiments.expression_temperature import best_temperature, ece, soften

ZOOMS = tuple(zoomed(FRAME_48, factor) for factor in (0.95, 1.05))


def faces_of(files: list[Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(canvas, points) per file, found as `facelens eval attributes` finds them."""
    found, _ = central_faces(files, fer_canvas, "yunet")
    return [(fer_canvas(load_image(f)), face.points) for f, face in zip(files, found, strict=True)]


def probabilities(model, faces: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    return np.concatenate([model.probabilities(rgb, points) for rgb, points in faces])


def accuracy(p: np.ndarray, truth: np.ndarray) -> str:
    return f"{np.mean(p.argmax(1) == truth):.2%} (calibration error {ece(p, truth):.1%})"


def view_sets(network: Path, faces: list, truth: np.ndarray, where: str) -> np.ndarray:
    """The network's probabilities with its shipped views, after printing both view sets."""
    model, zooming = TrainedExpression(network), TrainedExpression(network)
    zooming.templates = ZOOMS
    shipped = probabilities(model, faces)
    print(f"{where}: network, crop + mirror {accuracy(shipped, truth)}; "
          f"zooms + mirrors {accuracy(probabilities(zooming, faces), truth)}")  # fmt: skip
    return shipped


def learning_rate_check(images: np.ndarray, labels: np.ndarray) -> None:
    train_rows, valid_rows = expression.stratified_split(labels)
    subset = np.random.default_rng(0).choice(train_rows, 6000, replace=False)
    x, y = expression.to_tensor(images), torch.as_tensor(labels)
    for batch, rate in ((64, 1e-3), (128, 2e-3)):
        torch.manual_seed(0)
        net = expression.ExpressionNet(16)
        optimiser = torch.optim.AdamW(net.parameters(), lr=rate, weight_decay=1e-4)
        scores = []
        for _ in range(3):
            net.train()
            for rows in torch.as_tensor(subset)[torch.randperm(len(subset))].split(batch):
                optimiser.zero_grad()
                F.cross_entropy(net(x[rows]), y[rows]).backward()
                optimiser.step()
            predicted = expression.logits_of(net, images[valid_rows]).argmax(1).numpy()
            scores.append(f"{np.mean(predicted == labels[valid_rows]):.1%}")
        print(f"batch {batch}, rate {rate:g}: validation after epochs 1-3 {', '.join(scores)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", type=Path, required=True)
    parser.add_argument("--train", type=Path, default=Path("../shared/data/fer2013-train"))
    parser.add_argument("--fer", type=Path, default=Path("../shared/data/fer2013-dev"))
    parser.add_argument("--learning-rate", action="store_true")
    args = parser.parse_args()
    mini = MiniXceptionEmotion()

    files = [p for label in LABELS for p in sorted((args.train / label).glob("*.jpg"))]
    images, labels = expression.load_folder(args.train)  # the same order, as training reads it
    _, valid = expression.stratified_split(labels)
    faces = faces_of([files[i] for i in valid])
    truth = labels[valid]
    shown = calibrate(probabilities(mini, faces))
    print(f"validation split ({len(valid)} faces): mini-Xception {accuracy(shown, truth)}")
    view_sets(args.network, faces, truth, "validation split")

    dev = [f for f in sorted(args.fer.glob("*/*.jpg")) if f.parent.name in LABELS]
    faces, truth = faces_of(dev), np.array([LABELS.index(f.parent.name) for f in dev])
    network = view_sets(args.network, faces, truth, f"fer2013-dev ({len(dev)} faces)")
    ensemble = (calibrate(probabilities(mini, faces)) + network) / 2
    print(f"fer2013-dev: ensemble {accuracy(ensemble, truth)}")
    order = np.random.default_rng(0).permutation(len(dev))
    halves = (order[::2], order[1::2])
    for fit, test in (halves, halves[::-1]):
        t = best_temperature(ensemble[fit], truth[fit])
        print(f"  temperature fitted on one half {t:.2f}; calibration error on the other "
              f"{ece(soften(ensemble[test], t), truth[test]):.1%}")  # fmt: skip
    if args.learning_rate:
        learning_rate_check(images, labels)


if __name__ == "__main__":
    main()
