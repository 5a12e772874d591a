"""`facelens video SOURCE`: faces of a video file, camera or stream, tracked across frames."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from facelens.cli.output import DetectorOption, JsonOption, console, emit_json, reporting_errors
from facelens.detection.detector import DEFAULT_DETECTOR, DETECTORS
from facelens.lens import FaceLens
from facelens.types import VideoSummary


def video(
    source: str = typer.Argument(..., help="A video file, a camera index (0) or a stream URL."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the analysed frames with boxes and track ids to this .mp4."
    ),
    gallery: str | None = typer.Option(
        None, "--gallery", help="Name each track from this gallery (one search per track)."
    ),
    every: int = typer.Option(1, "--every", min=1, help="Analyse every N-th frame."),
    max_frames: int | None = typer.Option(
        None, "--max-frames", min=1, help="Stop after this many frames (a camera: needed)."
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0.001, help="Stop after this many seconds."
    ),
    detector: str = typer.Option(
        DEFAULT_DETECTOR, help=f"Face detector: {' or '.join(DETECTORS)} (yunet: small faces)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Track the faces of a video. --json prints JSON lines: {"frame": ...} per analysed
    frame as it is done, then {"summary": ...} with every track (or {"error": ...})."""
    from facelens.video.annotate import AnnotatedWriter

    with reporting_errors(as_json):
        lens = FaceLens(detector=detector)
        library = _open_gallery(gallery) if gallery else None
        analysis = lens.video(source, every, max_frames, duration, library)
        info = analysis.frames.info
        writer = (
            AnnotatedWriter(out, (info.fps or 30.0) / every, info.width, info.height)
            if out
            else None
        )
        total = info.frame_count
        if max_frames and total:
            total = min(total, max_frames)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(
            *columns, TimeRemainingColumn(), console=console, transient=True, disable=as_json
        ) as progress:
            task = progress.add_task("frames", total=total)
            try:
                for frame in analysis:
                    if as_json:
                        line = frame.model_dump_json(exclude_none=True)
                        sys.stdout.write('{"frame": ' + line + "}\n")
                        sys.stdout.flush()
                    if writer and analysis.current_rgb is not None:
                        writer.write(analysis.current_rgb, frame)
                    progress.update(task, completed=analysis.frames.frames_read)
            except KeyboardInterrupt:  # Ctrl-C on a camera: finish with what was seen
                analysis.close()
            finally:
                if writer:
                    writer.close()
        summary = analysis.summary()
    if as_json:
        sys.stdout.write('{"summary": ' + summary.model_dump_json(exclude_none=True) + "}\n")
        return
    _print_summary(summary, out)


def _open_gallery(where: str):
    from facelens.cli.gallery import _open

    return _open(where)


def _print_summary(summary: VideoSummary, out: Path | None) -> None:
    fps = summary.frames_read / summary.seconds if summary.seconds else 0.0
    console.print(
        f"{summary.info.source}: {summary.frames_read} frames read, {summary.frames_analysed} "
        f"analysed in {summary.seconds:.1f} s ({fps:.1f} frames/s); "
        f"cuts at {summary.cuts or 'none'}; {len(summary.tracks)} track(s)",
        markup=False,
    )
    table = Table(title="tracks")
    for column in ("track", "frames", "seen", "end", "best", "quality", "person", "identity"):
        table.add_column(column)
    for track in summary.tracks:
        quality = track.best.quality
        person = ", ".join(
            p
            for p in (
                track.gender.label if track.gender else "",
                track.age.bucket if track.age else "",
                track.expression.label if track.expression else "",
            )
            if p
        )
        table.add_row(
            str(track.track_id),
            f"{track.first_frame}-{track.last_frame}",
            str(track.detections),
            track.end,
            str(track.best_frame),
            f"{quality.score:.2f} {quality.verdict}" if quality else "",
            person,
            track.identity or ("unknown" if track.matches else ""),
        )
    console.print(table)
    if out:
        console.print(f"annotated video: {out}", markup=False)


def video_eval(
    clip: Path = typer.Option(
        Path("../shared/data/video/short_hamilton_clip.mp4"), help="The clip to analyse."
    ),
    detector: str = DetectorOption,
    every: int = typer.Option(1, "--every", min=1, help="Analyse every N-th frame."),
    repeat: int = typer.Option(1, min=1, max=20, help="Runs (each reported)."),
    speaker_until: int = typer.Option(
        211, min=0, help="Speaker id switches are counted in the shots before this frame."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Throughput (frames/s, ms per stage) and track stability of `facelens video` on a
    clip, models loaded first; the speaker's id switches per shot."""
    from facelens.eval.video_bench import bench, describe

    with reporting_errors(as_json), console.status("analysing the clip"):
        reports = [bench(clip, detector, every, speaker_until) for _ in range(repeat)]
    if as_json:
        emit_json(reports)
        return
    for report in reports:
        console.print(describe(report), markup=False)


def register(app: typer.Typer) -> None:
    app.command()(video)


def register_eval(eval_app: typer.Typer) -> None:
    eval_app.command("video")(video_eval)
