"""`facelens bench`: pipeline speed on one photo."""

from __future__ import annotations

from pathlib import Path

import typer

from facelens.cli.output import JsonOption, console, emit_json

DEFAULT_IMAGE = Path("../shared/data/face_recognition/examples/obama-1080p.jpg")


def bench(
    image: Path = typer.Option(DEFAULT_IMAGE, help="Photo to time (one face)."),
    repeat: int = typer.Option(30, min=1, help="Timed runs of facelens."),
    reference_repeat: int = typer.Option(3, min=1, help="Timed runs of face_recognition."),
    as_json: bool = JsonOption,
) -> None:
    """Median latency of detect + align + embed, and the speed-up over face_recognition."""
    from facelens.eval.bench import run_bench

    report = run_bench(image, repeat, reference_repeat)
    if as_json:
        emit_json(report)
        return
    console.print(
        f"{report['image']} ({report['size']}): facelens {report['median_ms']} ms "
        f"median (p90 {report['p90_ms']} ms; decoding adds {report['decode_ms']} ms)"
    )
    if report["speedup_vs_face_recognition"] is not None:
        console.print(
            f"face_recognition: {report['face_recognition_median_ms']} ms median → "
            f"facelens is {report['speedup_vs_face_recognition']}x faster"
        )


def register(app: typer.Typer) -> None:
    app.command()(bench)
