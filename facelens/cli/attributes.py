"""`facelens analyze PATH` and `facelens eval attributes`: age, gender and expression."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from facelens.attributes.choice import AttributeChoice, choose
from facelens.cli.folders import images_in, rows_for_folder
from facelens.cli.output import DetectorOption, JsonOption, console, emit_json, reporting_errors
from facelens.lens import FaceLens
from facelens.types import Face, ImageResult

ModelOption = typer.Option(
    None,
    "--model",
    help="KIND=MODEL, repeatable: age or gender = faceapi, faceapi-utk, head or a .onnx file "
    "from `facelens train age|gender|crop`, age also dlib-head (the default); expression = "
    "mini-xception, faceapi-fer, a .onnx file from `facelens train expression`, or several "
    "joined by + (probabilities averaged; the default: mini-xception+faceapi-fer).",
)


def attribute_models(pairs: list[str] | None) -> AttributeChoice:
    """`--model age=head --model gender=my.onnx` as an AttributeChoice."""
    models = {}
    for pair in pairs or []:
        kind, sep, model = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r} is not KIND=MODEL", param_hint="--model")
        models[kind.strip()] = model.strip()
    with reporting_errors(False):
        return choose(models)


def _table(result: ImageResult, title: str) -> Table:
    with_quality = any(face.quality is not None for face in result.faces)
    table = Table(title=title)
    columns = ["face", "box (x1, y1, x2, y2)", "label", "age (90%)", "gender", "expression"]
    for column in columns + (["quality"] if with_quality else []):
        table.add_column(column)
    for face in result.faces:
        b, age, gender, expression = face.box, face.age, face.gender, face.expression
        row = [
            str(face.index),
            f"{b.x1:.0f}, {b.y1:.0f}, {b.x2:.0f}, {b.y2:.0f}",
            face.label,
            f"{age.years:.1f} ({age.interval[0]:.0f}-{age.interval[1]:.0f}) {age.bucket}"
            if age
            else "",
            f"{gender.label} {gender.probability:.0%}" if gender else "",
            f"{expression.label} {expression.probability:.0%}" if expression else "",
        ]
        if with_quality:
            q = face.quality
            row.append(f"{q.score:.2f} {q.band} ({q.verdict})" if q else "")
        table.add_row(*row)
    return table


def analyze(
    path: Path = typer.Argument(..., help="An image, or a folder of images (recursive)."),
    quality: bool = typer.Option(
        True,
        "--quality/--no-quality",
        help="Assess each face's quality (score, verdict).",
        metavar="",
    ),
    csv_file: Path | None = typer.Option(None, "--csv", help="Also write one CSV row per face."),
    details: bool = typer.Option(
        False,
        "--details",
        help="Full tables for a folder too (default: one line per face).",
        metavar="",
    ),
    model: list[str] | None = ModelOption,
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """Every face with box, quality, age, gender and expression.

    A folder gives one entry per image (`image`, `result`, `error`): an image that cannot
    be read or shows no face is listed with its error, never dropped."""
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    lens = FaceLens(attribute_models=attribute_models(model), detector=detector)
    if path.is_dir():

        def one(image: Path) -> list[dict]:
            result = lens.analyze(image, quality=quality)
            return [{"image": str(image), "result": result, "error": None}] if result.faces else []

        rows = rows_for_folder(images_in(path), one, _problem, as_json)
    else:
        with reporting_errors(as_json):
            result = lens.analyze(path, quality=quality)
        rows = [{"image": str(path), "result": result, "error": None}]
    if csv_file is not None:
        _write_csv(csv_file, rows)
    if as_json:
        emit_json(rows if path.is_dir() else rows[0]["result"])
        return
    compact = path.is_dir() and not details
    for row in rows:
        (_print_line if compact else _print_image)(Path(row["image"]), row["result"], row["error"])


def _print_line(image: Path, result: ImageResult | None, error: dict | None) -> None:
    """One line per face (a folder of 50 photos reads as 50-odd lines, not 600)."""
    if result is None:
        console.print(f"{image.name}: {error['message'] if error else 'failed'}", markup=False)
        return
    for face in result.faces:
        if face.quality and face.quality.verdict == "retake":  # no attributes to trust
            why = ", ".join(face.quality.reasons) or f"quality {face.quality.score:.2f}"
            console.print(f"{image.name} face {face.index}: please retake ({why})", markup=False)
            continue
        parts = [face.label]
        if face.expression:
            parts.append(f"{face.expression.label} {face.expression.probability:.0%}")
        if face.quality:
            parts.append(f"quality {face.quality.score:.2f} ({face.quality.verdict})")
        console.print(f"{image.name} face {face.index}: " + ", ".join(parts), markup=False)


def _problem(image: Path, code: str, message: str) -> dict:
    return {"image": str(image), "result": None, "error": {"code": code, "message": message}}


def _print_image(image: Path, result: ImageResult | None, error: dict | None) -> None:
    if result is None:
        console.print(f"[red]{image.name}[/red]: {error['message'] if error else 'failed'}")
        return
    console.print(_table(result, f"{image.name}: {len(result.faces)} face(s)"))
    for face in result.faces:
        if face.expression:
            shares = ", ".join(
                f"{label} {p:.0%}" for label, p in face.expression.probabilities.items()
            )
            console.print(f"face {face.index} expression probabilities: {shares}")


CSV_COLUMNS = (
    "image", "face", "x1", "y1", "x2", "y2", "age", "age_low", "age_high", "age_bucket",
    "gender", "gender_probability", "expression", "expression_probability",
    "quality_score", "quality_verdict", "error",
)  # fmt: skip


def _face_csv_row(image: str, face: Face) -> dict:
    age, gender, expression, q = face.age, face.gender, face.expression, face.quality
    box = face.box
    return {
        "image": image,
        "face": face.index,
        "x1": round(box.x1, 1),
        "y1": round(box.y1, 1),
        "x2": round(box.x2, 1),
        "y2": round(box.y2, 1),
        "age": age.years if age else "",
        "age_low": age.interval[0] if age else "",
        "age_high": age.interval[1] if age else "",
        "age_bucket": age.bucket if age else "",
        "gender": gender.label if gender else "",
        "gender_probability": gender.probability if gender else "",
        "expression": expression.label if expression else "",
        "expression_probability": expression.probability if expression else "",
        "quality_score": q.score if q else "",
        "quality_verdict": q.verdict if q else "",
        "error": "",
    }


def _write_csv(target: Path, rows: list[dict]) -> None:
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            result: ImageResult | None = row["result"]
            if result is None:
                writer.writerow({"image": row["image"], "error": row["error"]["message"]})
                continue
            for face in result.faces:
                writer.writerow(_face_csv_row(row["image"], face))


def attributes(
    utkface: Path = typer.Option(
        Path("../shared/data/utkface-dev"), help="UTKFace folder (AGE_GENDER_RACE_*.jpg)."
    ),
    fer: Path = typer.Option(
        Path("../shared/data/fer2013-dev"), help="FER2013 folder with one folder per class."
    ),
    limit: int | None = typer.Option(None, min=1, help="Evenly spaced images per set."),
    detector: str = DetectorOption,
    model: list[str] | None = ModelOption,
    as_json: bool = JsonOption,
) -> None:
    """Age MAE (by decade), gender accuracy (by race) and expression accuracy."""
    from facelens.eval.attributes import evaluate_attributes

    for folder, hint in ((utkface, "--utkface"), (fer, "--fer")):
        if not folder.is_dir():
            raise typer.BadParameter(f"{folder} is not a folder", param_hint=hint)
    models = attribute_models(model)
    with (
        reporting_errors(as_json),
        Progress(console=console, transient=True, disable=as_json) as progress,
    ):
        task = progress.add_task("analysing", total=None)
        report = evaluate_attributes(
            utkface, fer, limit, lambda: progress.advance(task), detector, models
        )
    if as_json:
        emit_json(report)
        return
    _print_report(report)


def _print_report(report: dict) -> None:
    console.print(
        f"age: MAE {report['age_mae']:.2f} years (bias {report['age_bias']:+.2f}), "
        f"90% interval coverage {report['age_interval_coverage']:.1%}, "
        f"bucket accuracy {report['age_bucket_accuracy']:.1%}"
    )
    console.print(
        "  by decade: "
        + ", ".join(
            f"{d} {v['mae']:.1f} (n={v['faces']})" for d, v in report["age_mae_by_decade"].items()
        )
    )
    by_race = ", ".join(f"{k} {v:.1%}" for k, v in report["gender_accuracy_by_race"].items())
    by_age = ", ".join(f"{k} {v:.1%}" for k, v in report["gender_accuracy_by_age"].items())
    console.print(f"gender: accuracy {report['gender_accuracy']:.2%}; by race: {by_race}")
    console.print(f"  by age: {by_age}")
    recall = ", ".join(f"{k} {v:.0%}" for k, v in report["expression_recall"].items())
    console.print(f"expression: accuracy {report['expression_accuracy']:.2%}; recall: {recall}")
    confusion = Table(title="expression confusion (rows: true, columns: predicted)")
    confusion.add_column("")
    for label in report["expression_labels"]:
        confusion.add_column(label[:4])
    for label, row in zip(report["expression_labels"], report["expression_confusion"], strict=True):
        confusion.add_row(label, *(str(v) for v in row))
    console.print(confusion)
    console.print(
        f"{report['utkface_images']} UTKFace and {report['fer2013_images']} FER2013 images; "
        f"{report['undetected']} faces not detected (fallback layout used: "
        f"{report['undetected_utkface']} UTKFace, {report['undetected_fer2013']} FER2013)"
    )


def register(app: typer.Typer) -> None:
    app.command()(analyze)


def register_eval(eval_app: typer.Typer) -> None:
    eval_app.command(name="attributes")(attributes)
