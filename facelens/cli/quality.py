"""`facelens quality PATH` (pre-screening) and `facelens eval quality` (error vs discard)."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from facelens.cli.folders import images_in, rows_for_folder
from facelens.cli.output import DetectorOption, JsonOption, console, emit_json, reporting_errors


def _assess(image: Path, heatmap_dir: Path | None, detector: str) -> list[dict]:
    from facelens.io import load_image
    from facelens.lens import FaceLens

    rgb = load_image(image)
    result = FaceLens(detector=detector).analyze(
        rgb, quality=True, attributes=False, quality_heatmap=heatmap_dir is not None
    )
    rows = []
    for face in result.faces:
        quality = face.quality
        assert quality is not None
        written = None
        if heatmap_dir is not None:
            from facelens.quality.render import save_overlay

            heatmap_dir.mkdir(parents=True, exist_ok=True)
            written = heatmap_dir / f"{image.stem}_face{face.index}.png"
            save_overlay(rgb, face, written)
        rows.append(
            {
                "image": str(image),
                "face": face.index,
                "box": face.box.model_dump(),
                "detection_score": face.detection_score,
                "quality": quality.model_dump(mode="json"),
                "heatmap": str(written) if written else None,
                "error": None,
            }
        )
    return rows


def _problem(image: Path, code: str, message: str) -> dict:
    """A folder image with nothing to assess: listed (to retake), never silently dropped."""
    return {
        "image": str(image),
        "face": None,
        "box": None,
        "detection_score": None,
        "quality": None,
        "error": {"code": code, "message": message},
    }


def quality(
    path: Path = typer.Argument(..., help="An image, or a folder of images (recursive)."),
    csv_file: Path | None = typer.Option(None, "--csv", help="Also write one CSV row per face."),
    heatmap: Path | None = typer.Option(
        None, "--heatmap", help="Folder for heat-map overlay PNGs (one per face)."
    ),
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Face quality: score, band, verdict (ok / low / retake), reasons and components."""
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    images = images_in(path)
    if path.is_dir():
        rows = rows_for_folder(
            images, lambda image: _assess(image, heatmap, detector), _problem, as_json
        )
    else:
        with reporting_errors(as_json):
            rows = _assess(path, heatmap, detector)
    if csv_file is not None:
        _write_csv(csv_file, rows)
    if as_json:
        emit_json(rows)
        return
    _print(rows, len(images))
    maps = [row["heatmap"] for row in rows if row.get("heatmap")]
    if maps:
        console.print(f"{len(maps)} heat map(s) written to {heatmap}", markup=False)


def _write_csv(target: Path, rows: list[dict]) -> None:
    names = sorted({n for row in rows if row["quality"] for n in row["quality"]["components"]})
    with target.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "face", "score", "band", "verdict", "reasons", *names])
        for row in rows:
            q = row["quality"]
            if q is None:
                writer.writerow([row["image"], "", "", "", "retake", row["error"]["message"]])
                continue
            writer.writerow(
                [
                    row["image"],
                    row["face"],
                    q["score"],
                    q["band"],
                    q["verdict"],
                    "; ".join(q["reasons"]),
                    *(q["components"][n]["score"] for n in names),
                ]
            )


def _print(rows: list[dict], images: int) -> None:
    faces = sum(row["quality"] is not None for row in rows)
    table = Table(title=f"{images} image(s), {faces} face(s)")
    for column in ("image", "face", "score", "band", "verdict", "reasons"):
        table.add_column(column)
    colours = {"green": "green", "yellow": "yellow", "orange": "dark_orange", "red": "red"}
    for row in rows:
        q = row["quality"]
        if q is None:
            table.add_row(
                Path(row["image"]).name, "-", "", "", "[red]retake[/]", row["error"]["message"]
            )
            continue
        table.add_row(
            Path(row["image"]).name,
            str(row["face"]),
            f"{q['score']:.2f}",
            f"[{colours[q['band']]}]{q['band']}[/]",
            q["verdict"],
            ", ".join(q["reasons"]),
        )
    console.print(table)
    retake = [r for r in rows if r["quality"] is None or r["quality"]["verdict"] == "retake"]
    if retake:
        console.print(f"[red]{len(retake)} to retake:[/red]")
        for row in retake:
            if row["quality"] is None:
                console.print(f"  {row['image']}: {row['error']['message']}")
                continue
            reasons = ", ".join(row["quality"]["reasons"]) or "low quality"
            console.print(f"  {row['image']} face {row['face']}: {reasons}")


def quality_eval(
    data: Path = typer.Option(Path("../shared/data/lfw"), help="LFW folder with pairs.txt."),
    plot: Path | None = typer.Option(None, help="Write the error-versus-discard plot (PNG)."),
    workers: int = typer.Option(2, min=1, help="Worker processes."),
    as_json: bool = JsonOption,
) -> None:
    """Error-versus-discard (FNMR at FMR 1e-3) on LFW's held-out fold and degraded copies."""
    from facelens.eval.quality import evaluate_quality

    if not (data / "pairs.txt").is_file():
        raise typer.BadParameter(f"{data} has no pairs.txt", param_hint="--data")
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("detecting and embedding (cached)", total=None)
        report = evaluate_quality(data, workers, lambda n: progress.advance(task, n))
    if plot is not None:
        from facelens.quality.render import edc_plot

        edc_plot(report, plot)
    if as_json:
        emit_json(report)
        return
    for name in ("held_out", "degraded"):
        curves = report[name]
        table = Table(title=f"{name}: pAUC (FNMR, 0-20% discarded), lower is better")
        for column in ("ordering", "pauc_20", "FNMR 0%", "10%", "20%", "30%"):
            table.add_column(column)
        for ordering, values in sorted(curves.items(), key=lambda kv: kv[1]["pauc_20"]):
            c = values["curve"]
            table.add_row(
                ordering,
                f"{values['pauc_20']:.5f}",
                *(f"{c[k] * 100:.2f}%" for k in (0, 10, 20, 30)),
            )
        console.print(table)
    retake = report["retake"]
    console.print(f"retake on clean held-out faces: {retake['clean'] * 100:.1f}%")
    for label, figures in retake["severe"].items():
        console.print(
            f"retake on {label}: {figures['retake'] * 100:.1f}% "
            f"({figures['retake_or_no_face'] * 100:.1f}% counting faces not found)"
        )


def register(app: typer.Typer) -> None:
    app.command()(quality)


def register_eval(eval_app: typer.Typer) -> None:
    eval_app.command("quality")(quality_eval)
