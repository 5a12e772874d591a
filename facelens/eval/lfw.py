"""LFW View 2 verification: 10-fold accuracy, TAR at FMR 1e-3, undetected faces.

Every image is embedded once, plain and flip-fused from the same batch. A face the detector
misses is not dropped: it is aligned with the mean face mesh of the detected LFW faces
(the deep-funnelled images are centred), and counted in `undetected`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facelens.detection.align import align_faces
from facelens.detection.dlib_points import dlib_points
from facelens.eval.lfw_pairs import best_threshold, read_pairs, tar_at_fmr, ten_fold_accuracy
from facelens.io import load_image
from facelens.lens import FaceLens
from facelens.recognition.base import normalise
from facelens.recognition.operating_points import CALIBRATION_FILE

BATCH = 32


def central_face(boxes: np.ndarray, width: int, height: int) -> int:
    """Index of the face whose box centre is nearest the image centre (LFW's labelled face)."""
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return int(np.argmin(np.linalg.norm(centres - [width / 2, height / 2], axis=1)))


def embed_images(
    data_dir: Path, names: list[str], tick: Callable[[], None] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(raw plain, raw mirrored) embeddings per image, and the images with no face found."""
    lens = FaceLens()
    meshes: list[np.ndarray | None] = []
    for name in names:
        rgb = load_image(data_dir / "images" / name)
        found = lens.detector.detect(rgb)
        if len(found.boxes):
            meshes.append(found.mesh[central_face(found.boxes, rgb.shape[1], rgb.shape[0])])
        else:
            meshes.append(None)
        if tick:
            tick()
    detected = [m for m in meshes if m is not None]
    if not detected:
        raise RuntimeError("no face was detected in any image")
    fallback = np.mean(detected, axis=0)
    undetected = [n for n, m in zip(names, meshes, strict=True) if m is None]
    points = dlib_points(np.stack([fallback if m is None else m for m in meshes]))
    plain, mirrored = [], []
    template = lens.embedder.template
    for start in range(0, len(names), BATCH):
        chunk = names[start : start + BATCH]
        chips = []
        for offset, name in enumerate(chunk):
            rgb = load_image(data_dir / "images" / name)
            chips.append(align_faces(rgb, points[start + offset][None], template)[0][0])
        batch = np.stack(chips).transpose(0, 3, 1, 2).astype(np.float32)
        raw = lens.embedder.run(np.concatenate([batch, batch[:, :, :, ::-1]]))[0]
        plain.append(raw[: len(chunk)])
        mirrored.append(raw[len(chunk) :])
    return np.concatenate(plain), np.concatenate(mirrored), undetected


def evaluate_lfw(
    data_dir: Path, tick: Callable[[], None] | None = None, write_calibration: bool = False
) -> dict:
    pairs = read_pairs(data_dir)
    names = sorted({p.image_a for p in pairs} | {p.image_b for p in pairs})
    index = {name: i for i, name in enumerate(names)}
    raw_plain, raw_mirror, undetected = embed_images(data_dir, names, tick)
    variants = {"plain": normalise(raw_plain), "flip": normalise(raw_plain + raw_mirror)}
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    a = np.array([index[p.image_a] for p in pairs])
    b = np.array([index[p.image_b] for p in pairs])
    report: dict = {"images": len(names), "pairs": len(pairs), "undetected": len(undetected)}
    calibration: dict = {}
    for variant, vectors in variants.items():
        scores = np.sum(vectors[a] * vectors[b], axis=1)
        accuracy, std = ten_fold_accuracy(scores, same, folds)
        tar, fmr_threshold = tar_at_fmr(scores, same, 1e-3)
        accuracy_threshold = best_threshold(scores, same)
        figures = {"accuracy": accuracy, "accuracy_std": std, "tar_at_fmr_1e-3": tar}
        calibration[variant] = {
            "accuracy": {
                "threshold": round(accuracy_threshold, 4),
                "lfw_accuracy_all_pairs": float(np.mean((scores > accuracy_threshold) == same)),
            },
            "fmr_1e-3": {"threshold": round(fmr_threshold, 4), "lfw_tar": tar},
        }
        if variant == "plain":
            report.update(figures)
        else:
            report["flip"] = figures
    report["thresholds"] = calibration
    report["undetected_images"] = undetected
    if write_calibration:
        calibration["measured_on"] = (
            f"LFW View 2, {len(pairs)} pairs, {len(names)} images; "
            "facelens eval lfw --write-calibration"
        )
        CALIBRATION_FILE.write_text(json.dumps(calibration, indent=2) + "\n")
    return report
