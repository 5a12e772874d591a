"""Compare the BlazeFace detector variants and sanity-check the face mesh.

`python -m facelens.eval.detection [DATA_DIR] [--lfw N]` prints a table; DATA_DIR defaults to
../shared/data next to the repository.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from facelens.detection.blazeface import VARIANTS, BlazeFace, Detections
from facelens.detection.facemesh import MOUTH_LEFT, MOUTH_RIGHT, NOSE_TIP, FaceMesh, eye_centres

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
T1_TRUE_FACES = 6  # counted by eye: six people round the poker table (plus a tiny painted
# portrait on the wall, which is not counted)
BORDER_CUT = 95  # px cut off one side of a 250² LFW image: the face centre ends 30 px from it


def load_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def central(dets: Detections, point: np.ndarray) -> int | None:
    """Index of the best face whose box contains `point` (LFW faces sit at the centre)."""
    inside = np.all((dets.boxes[:, :2] <= point) & (point <= dets.boxes[:, 2:]), axis=1)
    hits = np.flatnonzero(inside)
    return int(hits[0]) if len(hits) else None


def border_crops(image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The image with BORDER_CUT px removed from each side in turn, and where its centre went."""
    h, w = image.shape[:2]
    c, k = np.array([w / 2, h / 2]), BORDER_CUT
    return [
        (image[:, k:], c - [k, 0]),
        (image[:, : w - k], c),
        (image[k:], c - [0, k]),
        (image[: h - k], c),
    ]


def latency_ms(det: BlazeFace, image: np.ndarray, runs: int = 30, tiles: int = 1) -> float:
    det.detect(image, tiles)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        det.detect(image, tiles)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def evaluate_variant(det: BlazeFace, data: Path, lfw: list[Path]) -> dict[str, float]:
    found = multi = 0
    for path in lfw:
        image = load_rgb(path)
        dets = det.detect(image)
        found += central(dets, np.array([image.shape[1] / 2, image.shape[0] / 2])) is not None
        multi += len(dets) > 1
    border_hits = border_total = 0
    for path in lfw[::10]:
        for crop, centre in border_crops(load_rgb(path)):
            border_hits += central(det.detect(crop), centre) is not None
            border_total += 1
    examples = data / "face_recognition" / "examples"
    t1 = load_rgb(data / "inspireface/insightface_samples/t1.jpg")
    two = load_rgb(examples / "two_people.jpg")
    obama = load_rgb(examples / "obama-1080p.jpg")
    # false positives added by tiling: extra faces on a 10 % LFW sample
    multi_tiled = np.mean([len(det.detect(load_rgb(p), tiles=2)) > 1 for p in lfw[::10]])
    return {
        "lfw_rate": found / len(lfw),
        "lfw_multi": multi / len(lfw),
        "border_rate": border_hits / border_total,
        "t1_faces": len(det.detect(t1)),
        "two_people_faces": len(det.detect(two)),
        "latency_ms": latency_ms(det, obama),
        "t1_faces_tiled": len(det.detect(t1, tiles=2)),
        "two_people_tiled": len(det.detect(two, tiles=2)),
        "lfw_multi_tiled": float(multi_tiled),
        "latency_tiled_ms": latency_ms(det, obama, tiles=2),
    }


def evaluate_mesh(det: BlazeFace, lfw: list[Path]) -> dict[str, float]:
    """Mesh points against the detector's keypoints on LFW, in units of the inter-eye distance,
    for weighted and hard NMS keypoints (both against the same mesh)."""
    mesh = FaceMesh()
    hard_det = type(det)()
    hard_det.weighted = False
    errors: dict[str, list[float]] = {k: [] for k in ("eyes", "eyes_hard", "nose", "mouth")}
    scores = []
    for path in lfw:
        image = load_rgb(path)
        centre = np.array([image.shape[1] / 2, image.shape[0] / 2])
        dets, hard = det.detect(image), hard_det.detect(image)
        i, j = central(dets, centre), central(hard, centre)
        if i is None or j is None:
            continue
        kp = dets.keypoints[i]
        res = mesh.predict(image, dets.boxes[i : i + 1], kp[None, 0], kp[None, 1])
        lm = res.landmarks[0, :, :2]
        eyes = eye_centres(res.landmarks)[0]
        iod = float(np.linalg.norm(eyes[1] - eyes[0]))
        errors["eyes"].append(float(np.linalg.norm(kp[:2] - eyes, axis=1).mean()) / iod)
        errors["eyes_hard"].append(
            float(np.linalg.norm(hard.keypoints[j, :2] - eyes, axis=1).mean()) / iod
        )
        errors["nose"].append(float(np.linalg.norm(kp[2] - lm[NOSE_TIP])) / iod)
        mouth = (lm[MOUTH_LEFT] + lm[MOUTH_RIGHT]) / 2
        errors["mouth"].append(float(np.linalg.norm(kp[3] - mouth)) / iod)
        scores.append(float(res.scores[0]))
    out = {f"{k}_err": float(np.mean(v)) for k, v in errors.items()}
    out["faces"] = len(scores)
    out["score_median"] = float(np.median(scores))
    out["score_below_0.5"] = float(np.mean(np.array(scores) < 0.5))
    return out


def evaluate_detectors(
    data_dir: Path | str = DEFAULT_DATA,
    lfw_limit: int | None = None,
    mesh_images: int = 2000,
    mesh_variant: str = "front",
) -> dict:
    """Per-variant detection numbers plus a face-mesh check (see module docstring)."""
    data = Path(data_dir)
    lfw = sorted((data / "lfw" / "images").glob("*/*.jpg"))[:lfw_limit]
    results: dict = {v: evaluate_variant(cls(), data, lfw) for v, cls in VARIANTS.items()}
    step = max(1, len(lfw) // mesh_images)
    results["mesh"] = evaluate_mesh(VARIANTS[mesh_variant](), lfw[::step][:mesh_images])
    results["lfw_images"] = len(lfw)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--lfw", type=int, default=None, help="use only the first N LFW images")
    args = parser.parse_args()
    res = evaluate_detectors(args.data_dir, args.lfw)
    print(f"LFW images: {res['lfw_images']}; t1.jpg true faces: {T1_TRUE_FACES}; two_people.jpg: 2")
    cols = list(res["front"])
    print("variant  " + " ".join(cols))
    for variant in VARIANTS:
        print(f"{variant:<8} " + " ".join(f"{res[variant][c]:>{len(c)}.3f}" for c in cols))
    print(
        "mesh vs detector keypoints (÷ inter-eye distance):",
        ", ".join(f"{k}={v:.3f}" for k, v in res["mesh"].items()),
    )


if __name__ == "__main__":
    sys.exit(main())
