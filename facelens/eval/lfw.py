"""LFW View 2 verification: 10-fold accuracy, TAR at FMR 1e-3, undetected faces.

Every image is detected once and embedded once per network, plain and mirrored in the same
batch (both cached under artifacts/eval-cache/). A face the detector misses is not dropped:
it is aligned with the mean landmarks and face mesh of the detected LFW faces (the
deep-funnelled images are centred), and counted in `undetected`. The fused embedder's
weight is chosen on the nine training folds of each split (facelens.eval.fusion).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from facelens.eval.cache import cached, weights_key
from facelens.eval.fusion import nested_fusion
from facelens.eval.lfw_pairs import (
    best_threshold,
    held_out_tar,
    read_pairs,
    tar_at_fmr,
    ten_fold_accuracy,
)
from facelens.io import load_image
from facelens.lens import FaceLens
from facelens.recognition.base import NetworkEmbedder, normalise
from facelens.recognition.fused import FusedEmbedder, fuse
from facelens.recognition.operating_points import store_calibration
from facelens.recognition.registry import get_embedder

BATCH = 32


def image_names(data_dir: Path) -> list[str]:
    """Every LFW image as "Person_Name/Person_Name_0001.jpg", sorted."""
    images = data_dir / "images"
    return sorted(str(p.relative_to(images)) for p in images.glob("*/*.jpg"))


def central_face(boxes: np.ndarray, width: int, height: int) -> int:
    """Index of the face whose box centre is nearest the image centre (LFW's labelled face)."""
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return int(np.argmin(np.linalg.norm(centres - [width / 2, height / 2], axis=1)))


def detect_faces(
    data_dir: Path, names: list[str], tick: Callable[[], None] | None = None
) -> dict[str, np.ndarray]:
    """Five landmarks and mesh of each image's central face; `detected` marks the found ones
    (the others carry the mean of the detected faces)."""

    def compute() -> dict[str, np.ndarray]:
        detector = FaceLens().detector
        points, meshes, detected = [], [], []
        for name in names:
            rgb = load_image(data_dir / "images" / name)
            found = detector.detect(rgb)
            if len(found.boxes):
                pick = central_face(found.boxes, rgb.shape[1], rgb.shape[0])
                points.append(found.points[pick])
                meshes.append(found.mesh[pick])
            detected.append(len(found.boxes) > 0)
            if tick:
                tick()
        if not points:
            raise RuntimeError("no face was detected in any image")
        found_mask = np.array(detected)
        all_points = np.zeros((len(names), 5, 2), np.float32)
        all_meshes = np.zeros((len(names), 468, 3), np.float32)
        all_points[found_mask], all_meshes[found_mask] = points, meshes
        all_points[~found_mask] = np.mean(points, axis=0)
        all_meshes[~found_mask] = np.mean(meshes, axis=0)
        return {"points": all_points, "mesh": all_meshes, "detected": found_mask}

    return cached("lfw-faces", names, "", compute)


def network_outputs(
    network: NetworkEmbedder, data_dir: Path, names: list[str], faces: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Raw outputs of every image's chip (`plain`) and of its mirror image (`mirrored`)."""

    def compute() -> dict[str, np.ndarray]:
        plain, mirrored = [], []
        for start in range(0, len(names), BATCH):
            chunk = range(start, min(start + BATCH, len(names)))
            chips = np.concatenate(
                [
                    network.chips(
                        load_image(data_dir / "images" / names[i]),
                        faces["points"][i : i + 1],
                        faces["mesh"][i : i + 1],
                    )
                    for i in chunk
                ]
            )
            raw, mirror = network.raw(chips, flip=True)
            plain.append(raw)
            mirrored.append(mirror)
        return {"plain": np.concatenate(plain), "mirrored": np.concatenate(mirrored)}

    extra = f"{network.name}:{weights_key(network.file_name)}"
    return cached(f"lfw-{network.name}", names, extra, compute)


def embed_images(
    data_dir: Path,
    names: list[str],
    tick: Callable[[], None] | None = None,
    embedder: str = "dlib",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(raw plain, raw mirrored) outputs of a network per image, and the undetected images."""
    network = get_embedder(embedder)
    assert isinstance(network, NetworkEmbedder), "a single network, not a composition"
    faces = detect_faces(data_dir, names, tick)
    outputs = network_outputs(network, data_dir, names, faces)
    undetected = [n for n, found in zip(names, faces["detected"], strict=True) if not found]
    return outputs["plain"], outputs["mirrored"], undetected


def variants(raw: np.ndarray, mirrored: np.ndarray, flip: bool) -> dict[str, np.ndarray]:
    """Unit vectors as FaceLens(flip=False) and, with `flip`, FaceLens(flip=True) give them."""
    out = {"plain": normalise(raw)}
    if flip:
        out["flip"] = normalise(raw + mirrored)
    return out


def embedder_vectors(
    data_dir: Path,
    names: list[str],
    tick: Callable[[], None] | None = None,
    embedder: str = "dlib",
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Unit vectors per image as FaceLens(embedder=...) gives them, plain and flip-fused
    ({"plain": (N, D), "flip": (N, D)}), and the undetected images. A fused embedder's
    parts are cached and fused with its shipped weight."""
    model = get_embedder(embedder)
    parts = model.parts if isinstance(model, FusedEmbedder) else (model,)
    per_part = []
    for part in parts:
        raw, mirrored, undetected = embed_images(data_dir, names, tick, part.name)
        per_part.append(variants(raw, mirrored, flip=True))
    if not isinstance(model, FusedEmbedder):
        return per_part[0], undetected
    first, second = per_part
    fused = {v: fuse(first[v], second[v], model.weight) for v in ("plain", "flip")}
    return fused, undetected


def evaluate_lfw(
    data_dir: Path,
    tick: Callable[[], None] | None = None,
    write_calibration: bool = False,
    embedder: str = "dlib",
    flip: bool = True,
) -> dict:
    if write_calibration and not flip:
        raise ValueError("--write-calibration needs the flip variant too (FaceLens(flip=True))")
    pairs = read_pairs(data_dir)
    names = sorted({p.image_a for p in pairs} | {p.image_b for p in pairs})
    index = {name: i for i, name in enumerate(names)}
    model = get_embedder(embedder)
    parts = model.parts if isinstance(model, FusedEmbedder) else (model,)
    per_part = []
    for part in parts:
        raw, mirrored, undetected = embed_images(data_dir, names, tick, part.name)
        per_part.append(variants(raw, mirrored, flip))
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    a = np.array([index[p.image_a] for p in pairs])
    b = np.array([index[p.image_b] for p in pairs])
    report: dict = {
        "embedder": model.name,
        "version": model.version,
        "images": len(names),
        "pairs": len(pairs),
        "undetected": len(undetected),
    }
    calibration: dict = {}
    for variant in per_part[0]:

        def scores_at(weight: float, variant: str = variant) -> np.ndarray:
            vectors = [p[variant] for p in per_part]
            fused = fuse(vectors[0], vectors[1], weight) if len(vectors) == 2 else vectors[0]
            return np.sum(fused[a] * fused[b], axis=1)

        # a fused embedder's w is chosen per fold; its thresholds are the shipped w's
        scores = scores_at(model.weight if isinstance(model, FusedEmbedder) else 0.0)
        tar, fmr_threshold = tar_at_fmr(scores, same, 1e-3)
        if isinstance(model, FusedEmbedder):
            figures = nested_fusion(scores_at, same, folds)
            figures["shipped_weight"] = model.weight
        else:
            accuracy, std = ten_fold_accuracy(scores, same, folds)
            figures = {"accuracy": accuracy, "accuracy_std": std}
            held_tar, held_fmr = held_out_tar(scores, same, folds, 1e-3)
            figures |= {"tar_at_fmr_1e-3_held_out": held_tar, "held_out_fmr": held_fmr}
        figures["tar_at_fmr_1e-3"] = tar  # all pairs, one threshold
        accuracy_threshold = best_threshold(scores, same)
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
            f"facelens eval lfw --embedder {model.name} --write-calibration"
        )
        if isinstance(model, FusedEmbedder):
            calibration["weight"] = model.weight
        store_calibration(model.name, calibration)
    return report
