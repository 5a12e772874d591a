"""Speed of face quality: one detected face, without and with the heat map.

    python -m facelens.eval.quality_bench [IMAGE] [--runs 30]

Detection is done once beforehand (it is not part of the quality cost). Reports the
median and 90th percentile wall time in milliseconds, and the part taken by each stage.
On a small shared machine, FACELENS_THREADS=1 is usually faster per face.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

DEFAULT_IMAGE = Path("../shared/data/face_recognition/examples/obama-480p.jpg")


def _time(function: object, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(float(np.median(times)), 2),
        "p90_ms": round(float(np.percentile(times, 90)), 2),
    }


def bench(image: Path, runs: int) -> dict:
    from facelens.io import load_image
    from facelens.lens import FaceLens
    from facelens.quality import assess_quality, stability_of
    from facelens.quality.heatmap import heatmaps
    from facelens.quality.measure import measure

    lens = FaceLens()
    rgb = load_image(image)
    faces = lens.detector.detect(rgb)
    if len(faces) == 0:
        raise SystemExit(f"no face in {image}")
    one = type(faces)(
        faces.boxes[:1], faces.scores[:1], faces.points[:1], faces.mesh[:1], faces.mesh_scores[:1]
    )
    embedder = lens.quality_embedder
    for _ in range(3):  # warm up: model loading, first-call allocations
        assess_quality(rgb, one, embedder, heatmap=True)
    measured = measure(rgb, one, embedder.template)
    measured.raw["embedding_stability"] = stability_of(measured.chips, embedder)[0]
    return {
        "image": str(image),
        "runs": runs,
        "onnx_threads": os.environ.get("FACELENS_THREADS", "0 (all cores)"),
        "quality": _time(lambda: assess_quality(rgb, one, embedder), runs),
        "quality_with_heatmap": _time(lambda: assess_quality(rgb, one, embedder, True), runs),
        "stages": {
            "measures": _time(lambda: measure(rgb, one, embedder.template), runs),
            "embedding_stability": _time(lambda: stability_of(measured.chips, embedder), runs),
            "heatmap": _time(lambda: heatmaps(measured), runs),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image", type=Path, nargs="?", default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(bench(args.image, args.runs), indent=2))


if __name__ == "__main__":
    main()
