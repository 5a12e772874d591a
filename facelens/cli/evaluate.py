"""`facelens eval ...`: the measurements behind the README's figures."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from facelens.cli.output import JsonOption, console, emit_json

app = typer.Typer(no_args_is_help=True, help="Evaluate facelens on labelled data.")


@app.command()
def lfw(
    data: Path = typer.Option(Path("../shared/data/lfw"), help="LFW folder with pairs.txt."),
    write_calibration: bool = typer.Option(
        False, help="Store the measured thresholds as the package's operating points."
    ),
    as_json: bool = JsonOption,
) -> None:
    """LFW View 2: 10-fold accuracy, TAR at FMR 1e-3, undetected faces (plain and flip)."""
    from facelens.eval.lfw import evaluate_lfw
    from facelens.eval.lfw_pairs import read_pairs

    if not (data / "pairs.txt").is_file():
        raise typer.BadParameter(f"{data} has no pairs.txt", param_hint="--data")
    total = len({n for p in read_pairs(data) for n in (p.image_a, p.image_b)})
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("detecting", total=total)
        report = evaluate_lfw(data, lambda: progress.advance(task), write_calibration)
    if as_json:
        emit_json(report)
        return
    for name, figures in (("plain", report), ("flip-fused", report["flip"])):
        console.print(
            f"{name:>10}: accuracy {figures['accuracy'] * 100:.2f}% "
            f"± {figures['accuracy_std'] * 100:.2f}, "
            f"TAR@FMR1e-3 {figures['tar_at_fmr_1e-3'] * 100:.2f}%"
        )
    console.print(
        f"{report['images']} images, {report['pairs']} pairs, "
        f"{report['undetected']} faces not detected (fallback crop used)"
    )
