"""Fit where facelens's five landmarks sit in dlib's 150×150 recognition chip.

dlib's network was trained on chips cut by dlib's 5-point aligner (eye corners and the base
of the nose, padding 0.25). facelens finds different points (eye centres, nose tip, mouth
corners, from the face mesh), so this script expresses dlib's chip geometry in those points:
for each face it takes the similarity transform dlib would use, maps our five landmarks into
chip coordinates, and averages. It prints the template and the residuals, and checks that the
dlib-point transform reproduces dlib.get_face_chip.

Run: python tools/fit_alignment_template.py [--images DIR] [--limit 800]
Data: UTKFace (not LFW, which evaluates the result).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from facelens.detection.align import CropTemplate, estimate_transform, warp_crop
from facelens.detection.detector import FaceDetector
from facelens.eval.dlib_reference import DlibReference
from facelens.io import load_image

# dlib's 5-point template on the unit face square (get_face_chip_details, interpolation.h):
# subject's left eye outer, left eye inner, right eye outer, right eye inner, nose base.
DLIB_UNIT_POINTS = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
SIZE, PADDING = 150, 0.25
# dlib's chip pixel grid sits half a pixel off OpenCV's: with this shift our warp of dlib's
# own points matches dlib.get_face_chip to 2.1 grey levels (4.0 without it).
DLIB_TEMPLATE = CropTemplate(SIZE, (DLIB_UNIT_POINTS + PADDING) / (2 * PADDING + 1) * SIZE - 0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=Path, default=Path("../shared/data/utkface-dev"))
    parser.add_argument("--limit", type=int, default=800)
    args = parser.parse_args()
    reference, detector = DlibReference(), FaceDetector.shared()
    mapped, chip_errors = [], []
    files = sorted(args.images.glob("*.jpg"))[: args.limit]
    for path in files:
        rgb = load_image(path)
        shapes = reference.shapes(rgb, upsample=1)
        ours = detector.detect(rgb)
        if len(shapes) != 1 or len(ours.boxes) != 1:
            continue  # only unambiguous single faces
        dlib_points = np.array([[p.x, p.y] for p in shapes[0].parts()], np.float64)
        matrix = estimate_transform(dlib_points, DLIB_TEMPLATE)
        if len(chip_errors) < 50:  # our warp with dlib's points must give dlib's own chip
            ours_chip = warp_crop(rgb, matrix, SIZE).astype(np.float32)
            chip_errors.append(np.abs(ours_chip - reference.chip(rgb, shapes[0])).mean())
        points = np.c_[ours.points[0], np.ones(5)] @ matrix.T
        mapped.append(points)
    mapped_array = np.array(mapped)
    template = mapped_array.mean(axis=0)
    spread = np.linalg.norm(mapped_array - template, axis=2)
    print(f"faces used: {len(mapped)} of {len(files)}")
    print(f"our warp vs dlib.get_face_chip: mean abs pixel difference {np.mean(chip_errors):.2f}")
    print("template (chip pixels):")
    for row in template:
        print(f"            [{row[0]:.3f}, {row[1]:.3f}],")
    print(f"per-point spread (px, mean): {np.round(spread.mean(axis=0), 2).tolist()}")


if __name__ == "__main__":
    main()
