"""`facelens liveness CLIP`: is the clip's main face a live person, a photo or a replay?"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from facelens.cli.output import DetectorOption, JsonOption, console, emit_json, reporting_errors
from facelens.lens import FaceLens
from facelens.types import Liveness

COLOURS = {"live": "green", "spoof": "red", "undecided": "yellow"}


def liveness(
    source: str = typer.Argument(..., help="A video file, a camera index (0) or a stream URL."),
    challenge: str | None = typer.Option(
        None,
        "--challenge",
        help="The prompts the person was given, in order from the clip's start, 5 s each: "
        "e.g. blink,left,right (left/right: the person's own).",
    ),
    every: int = typer.Option(1, "--every", min=1, help="Analyse every N-th frame."),
    duration: float | None = typer.Option(
        None, "--duration", min=0.001, help="Read at most this many seconds (camera: 30)."
    ),
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Liveness of the most prominent face: passive cues (blinks, non-rigid motion, frozen
    frames) and the answers to a challenge. Prints the verdict (live, spoof or undecided)
    with its reasons; the exit code is 0 whatever the verdict (2 for bad input)."""
    with reporting_errors(as_json):
        result = FaceLens(detector=detector).liveness(source, challenge or None, every, duration)
    if as_json:
        emit_json(result)
        return
    _print(result)


def _print(result: Liveness) -> None:
    colour = COLOURS[result.verdict]
    console.print(f"[bold {colour}]{result.verdict}[/]: " + "; ".join(result.reasons))
    cues = result.cues
    if cues:
        console.print(
            f"subject: track {result.track_id}, {cues.seconds:.1f} s, {cues.frames} frames, "
            f"face {cues.face_side:.0f} px; blinks {cues.blinks}; residual "
            f"{cues.residual if cues.residual is not None else '-'}, motion "
            f"{cues.motion if cues.motion is not None else '-'}; frozen frames "
            f"{100 * cues.frozen_share:.0f}%",
            markup=False,
        )
    if result.challenge:
        table = Table(title="challenge")
        for column in ("step", "action", "status", "asked at", "done at", "why"):
            table.add_column(column)
        for number, step in enumerate(result.challenge, 1):
            table.add_row(
                str(number),
                step.action,
                step.status,
                "" if step.asked_at is None else f"{step.asked_at:.2f} s",
                "" if step.done_at is None else f"{step.done_at:.2f} s",
                step.reason or "",
            )
        console.print(table)
    console.print(f"{result.frames_read} frames read in {result.seconds:.1f} s", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(liveness)


def register_eval(eval_app: typer.Typer) -> None:
    eval_app.command("liveness")(liveness_eval)


def liveness_eval(
    data: Path = typer.Option(Path("../shared/data"), help="The shared data folder."),
    photos: int = typer.Option(50, min=1, help="Real photos to make attacks from."),
    seconds: float = typer.Option(3.0, min=1.0, max=30.0, help="Length of each attack clip."),
    every: int = typer.Option(1, "--every", min=1, help="Analyse every N-th frame."),
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Live clips (the real clip's shots) against photo, screen, frozen and replay attacks:
    passive and challenged verdicts by kind (tens of minutes on 2 cores)."""
    from facelens.eval.liveness import evaluate, markdown

    for needed in ("video/short_hamilton_clip.mp4", "inspireface/test_res/bulk/rgb_fake.jpg"):
        if not (data / needed).is_file():
            raise typer.BadParameter(f"{data} has no {needed}", param_hint="--data")
    with console.status("judging clips") as status:

        def show(row: dict) -> None:
            status.update(f"judged {row['kind']} {row['name']}: {row['verdict']}")

        report = evaluate(data, photos, seconds, detector, every, show)
    if as_json:
        emit_json(report)
        return
    console.print(markdown(report), markup=False)
