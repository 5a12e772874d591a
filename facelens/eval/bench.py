"""Speed of detect + align + embed for one photo, per embedder, against face_recognition."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from facelens.detection.names import DEFAULT_DETECTOR
from facelens.io import load_image
from facelens.lens import FaceLens
from facelens.recognition.registry import DEFAULT_EMBEDDER, EMBEDDER_NAMES


def _timings(work: Callable[[], object], repeat: int) -> list[float]:
    work()  # warm-up: first-call allocations and lazy loading are not the steady state
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _summary(times: list[float]) -> dict:
    return {
        "median_ms": round(float(np.median(times)), 2),
        "p90_ms": round(float(np.percentile(times, 90)), 2),
    }


def run_bench(
    image: Path,
    repeat: int = 30,
    reference_repeat: int = 3,
    embedders: Sequence[str] = EMBEDDER_NAMES,
    detector_name: str = DEFAULT_DETECTOR,
) -> dict:
    """Top-level `median_ms`/`p90_ms` are the default embedder's pipeline; `embedders` has
    each one's, `detect_only` the detector + mesh alone (the rest is align + embed)."""
    rgb = load_image(image)
    load_before = os.getloadavg()
    default_lens = FaceLens(detector=detector_name)
    detector = default_lens.detector
    per_embedder = {}
    for name in dict.fromkeys([DEFAULT_EMBEDDER, *embedders]):
        lens = FaceLens(embedder=name, detector=detector_name)

        def pipeline(lens: FaceLens = lens) -> None:
            detections = lens.detector.detect(rgb)
            lens.embed_found(rgb, detections, slice(0, 1))

        per_embedder[name] = _summary(_timings(pipeline, repeat))

    def largest_face() -> None:
        detections = default_lens.detector.detect(rgb, largest=True)
        default_lens.embed_found(rgb, detections, slice(0, 1))

    report = {
        "image": str(image),
        "size": f"{rgb.shape[1]}x{rgb.shape[0]}",
        **per_embedder[DEFAULT_EMBEDDER],
        "embedder": DEFAULT_EMBEDDER,
        "detector": detector_name,
        "embedders": per_embedder,
        "detect_only": _summary(_timings(lambda: detector.detect(rgb), repeat)),
        # what verify and enrolment run: only the largest face is wanted, so YuNet may stop
        # at a coarse pass (YuNet.detect's largest_sure)
        "largest_face": _summary(_timings(largest_face, repeat)),
        "decode_ms": round(float(np.median(_timings(lambda: load_image(image), 5))), 2),
    }
    try:
        from facelens.eval.dlib_reference import DlibReference

        reference = DlibReference()
        theirs = _timings(lambda: reference.encodings(rgb), reference_repeat)
        report["face_recognition_median_ms"] = round(float(np.median(theirs)), 1)
        report["speedup_vs_face_recognition"] = {
            name: round(float(np.median(theirs) / figures["median_ms"]), 1)
            for name, figures in per_embedder.items()
        }
    except (ImportError, RuntimeError) as missing:
        report["face_recognition_median_ms"] = None
        report["speedup_vs_face_recognition"] = None
        report["reference_unavailable"] = str(missing)
    report["load_average"] = {
        "before": [round(v, 2) for v in load_before],
        "after": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    return report
