"""`facelens bench`: pipeline speed on one photo."""

from __future__ import annotations

from pathlib import Path

import typer

from facelens.cli.output import DetectorOption, JsonOption, console, emit_json

DEFAULT_IMAGE = Path("../shared/data/face_recognition/examples/obama-1080p.jpg")


def bench(
    image: Path = typer.Option(DEFAULT_IMAGE, help="Photo to time (one face)."),
    repeat: int = typer.Option(30, min=1, help="Timed runs of facelens."),
    reference_repeat: int = typer.Option(3, min=1, help="Timed runs of face_recognition."),
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Median latency of detect + align + embed per embedder, the speed-up over
    face_recognition, and the machine's load average (timings on a busy machine are high)."""
    from facelens.eval.bench import run_bench

    report = run_bench(image, repeat, reference_repeat, detector_name=detector)
    if as_json:
        emit_json(report)
        return
    detect = report["detect_only"]
    console.print(
        f"{report['image']} ({report['size']}), {report['detector']}: detect + align + embed, "
        "median (p90); "
        f"decoding adds {report['decode_ms']} ms; detection alone {detect['median_ms']} ms "
        f"({detect['p90_ms']})"
    )
    speedups = report["speedup_vs_face_recognition"] or {}
    for name, figures in report["embedders"].items():
        faster = f", {speedups[name]}x face_recognition" if name in speedups else ""
        console.print(f"{name:>6}: {figures['median_ms']} ms ({figures['p90_ms']}){faster}")
    largest = report["largest_face"]
    console.print(
        f"largest face only (verify, enrolment), {report['embedder']}: "
        f"{largest['median_ms']} ms ({largest['p90_ms']})"
    )
    if speedups:
        console.print(f"face_recognition: {report['face_recognition_median_ms']} ms median")
    load = report["load_average"]
    console.print(
        f"load average (1, 5, 15 min) before {load['before']}, after {load['after']} "
        f"on {load['cpus']} CPUs"
    )


def register(app: typer.Typer) -> None:
    app.command()(bench)
