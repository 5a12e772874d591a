"""Which five points from the face mesh align SFace's chips best (README, "Recognition").

    PYTHONPATH=$PWD python tools/experiments/sface_points.py [--data ../shared/data/lfw]

SFace was trained on chips aligned to insightface's ArcFace template from RetinaFace-style
points (eye centres, nose tip, mouth corners). The mesh gives several readings of those;
each variant here re-embeds LFW's 7,701 images (detections from `facelens eval lfw`'s cache)
and reports the 10-fold accuracy and TAR at FMR 1e-3, plain embeddings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from facelens.detection.align import align_faces
from facelens.detection.facemesh import eye_centres
from facelens.detection.landmarks import five_points
from facelens.eval.lfw import detect_faces, network_outputs
from facelens.eval.lfw_pairs import read_pairs, tar_at_fmr, ten_fold_accuracy
from facelens.io import load_image
from facelens.recognition.base import normalise
from facelens.recognition.registry import get_network

INNER_MOUTH = (308, 78)  # subject's left, right inner lip corners


def variants(mesh: np.ndarray) -> dict[str, np.ndarray]:
    xy = mesh[..., :2]
    base = five_points(mesh)  # eye-contour centres, nose tip 1, mouth corners 61/291
    corners = base.copy()
    corners[:, [1, 0]] = eye_centres(mesh)  # eye_centres: subject's right, then left
    inner = base.copy()
    inner[:, 3:] = xy[:, INNER_MOUTH]
    return {"eye-corner midpoints": corners, "inner mouth corners": inner}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lfw"))
    data = parser.parse_args().data
    pairs = read_pairs(data)
    names = sorted({p.image_a for p in pairs} | {p.image_b for p in pairs})
    index = {name: i for i, name in enumerate(names)}
    a = np.array([index[p.image_a] for p in pairs])
    b = np.array([index[p.image_b] for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    faces = detect_faces(data, names)
    sface = get_network("sface")

    def report(label: str, raw: np.ndarray) -> None:
        vectors = normalise(raw)
        scores = np.sum(vectors[a] * vectors[b], axis=1)
        accuracy, std = ten_fold_accuracy(scores, same, folds)
        tar = tar_at_fmr(scores, same, 1e-3)[0]
        print(f"{label}: accuracy {accuracy:.2%} ± {std:.2%}, TAR@FMR1e-3 {tar:.2%}", flush=True)

    shipped = network_outputs(sface, data, names, faces)["plain"]  # `facelens eval lfw`'s cache
    report("pipeline's five points (eye-contour centres, nose tip, mouth corners)", shipped)
    images = [load_image(data / "images" / name) for name in names]
    for label, points in variants(faces["mesh"]).items():
        chips = [
            align_faces(rgb, points[i : i + 1], sface.template)[0] for i, rgb in enumerate(images)
        ]
        chips = np.concatenate(chips)
        report(
            label,
            np.concatenate([sface.raw(chips[s : s + 64])[0] for s in range(0, len(chips), 64)]),
        )


if __name__ == "__main__":
    main()
