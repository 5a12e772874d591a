"""Speed of detect + align + embed for one photo, against face_recognition's pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facelens.io import load_image
from facelens.lens import FaceLens


def _timings(work: Callable[[], object], repeat: int) -> list[float]:
    work()  # warm-up: first-call allocations and lazy loading are not the steady state
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def run_bench(image: Path, repeat: int = 30, reference_repeat: int = 3) -> dict:
    rgb = load_image(image)
    lens = FaceLens()

    def facelens_pipeline() -> None:
        detections = lens.detector.detect(rgb)
        lens.embed_found(rgb, detections, slice(0, 1))

    ours = _timings(facelens_pipeline, repeat)
    report = {
        "image": str(image),
        "size": f"{rgb.shape[1]}x{rgb.shape[0]}",
        "median_ms": round(float(np.median(ours)), 2),
        "p90_ms": round(float(np.percentile(ours, 90)), 2),
        "decode_ms": round(float(np.median(_timings(lambda: load_image(image), 5))), 2),
    }
    try:
        from facelens.eval.dlib_reference import DlibReference

        reference = DlibReference()
        theirs = _timings(lambda: reference.encodings(rgb), reference_repeat)
        report["face_recognition_median_ms"] = round(float(np.median(theirs)), 1)
        report["speedup_vs_face_recognition"] = round(float(np.median(theirs) / np.median(ours)), 1)
    except (ImportError, RuntimeError) as missing:
        report["face_recognition_median_ms"] = None
        report["speedup_vs_face_recognition"] = None
        report["reference_unavailable"] = str(missing)
    return report
