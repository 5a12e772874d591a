"""`facelens eval ...`: the measurements behind the README's figures."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from facelens.cli.output import DetectorOption, EmbedderOption, JsonOption, console, emit_json

app = typer.Typer(no_args_is_help=True, help="Evaluate facelens on labelled data.")


@app.command()
def lfw(
    data: Path = typer.Option(Path("../shared/data/lfw"), help="LFW folder with pairs.txt."),
    embedder: str = EmbedderOption,
    flip: bool = typer.Option(
        True,
        help="Also measure flip-fused embeddings (FaceLens(flip=True)).",
        metavar="",
    ),
    write_calibration: bool = typer.Option(
        False,
        help="Store the measured thresholds as this embedder's operating points.",
        metavar="",
    ),
    as_json: bool = JsonOption,
) -> None:
    """LFW View 2: 10-fold accuracy, TAR at FMR 1e-3, undetected faces (plain and flip)."""
    from facelens.eval.lfw import evaluate_lfw
    from facelens.eval.lfw_pairs import read_pairs

    if not (data / "pairs.txt").is_file():
        raise typer.BadParameter(f"{data} has no pairs.txt", param_hint="--data")
    if write_calibration and not flip:
        raise typer.BadParameter("--write-calibration needs --flip", param_hint="--no-flip")
    total = len({n for p in read_pairs(data) for n in (p.image_a, p.image_b)})
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("detecting", total=total)
        report = evaluate_lfw(
            data, lambda: progress.advance(task), write_calibration, embedder, flip
        )
    if as_json:
        emit_json(report)
        return
    console.print(f"embedder {report['embedder']} ({report['version']})")
    rows = [("plain", report)] + ([("flip-fused", report["flip"])] if flip else [])
    for name, figures in rows:
        weights = figures.get("weights_per_fold")
        console.print(
            f"{name:>10}: accuracy {figures['accuracy'] * 100:.2f}% "
            f"± {figures['accuracy_std'] * 100:.2f}, "
            f"TAR@FMR1e-3 {figures['tar_at_fmr_1e-3'] * 100:.2f}% (all pairs"
            + (f", weight {figures['shipped_weight']}" if weights else "")
            + f"; held out {figures['tar_at_fmr_1e-3_held_out'] * 100:.2f}% at FMR "
            f"{figures['held_out_fmr']:.1e})"
        )
        if weights:
            console.print(
                f"{'':>10}  fusion weight chosen per fold {weights}, "
                f"on all ten folds {figures['weight_all_folds']}"
            )
    console.print(
        f"{report['images']} images, {report['pairs']} pairs, "
        f"{report['undetected']} faces not detected (fallback crop used)"
    )


@app.command()
def cfp(
    data: Path = typer.Option(
        Path("../shared/data/cfp-dev"), help="CFP folder (Images/, Protocol/)."
    ),
    embedder: str = EmbedderOption,
    detector: str = DetectorOption,
    as_json: bool = JsonOption,
) -> None:
    """CFP frontal-frontal and frontal-profile: split-cross-validated accuracy with every pair
    counted, TAR at FMR 1e-3, undetected images."""
    from facelens.eval.cfp import evaluate_cfp, read_cfp

    if not (data / "Protocol" / "Pair_list_F.txt").is_file():
        raise typer.BadParameter(f"{data} has no Protocol/Pair_list_F.txt", param_hint="--data")
    total = len({n for p in read_cfp(data) for n in (p.first, p.second)})
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("embedding", total=total)
        report = evaluate_cfp(data, embedder, lambda: progress.advance(task), detector)
    if as_json:
        emit_json(report)
        return
    for protocol in ("FF", "FP"):
        figures = report[protocol]
        by_split = ", ".join(
            f"{split} {value:.1%}" for split, value in figures["refused_fraction_by_split"].items()
        )
        console.print(
            f"{protocol}: accuracy {figures['accuracy'] * 100:.2f}% "
            f"± {figures['accuracy_std'] * 100:.2f} (every pair counted; failed pairs as "
            f"errors {figures['accuracy_failed_as_errors'] * 100:.2f}%, pairs with both faces "
            f"found {figures['accuracy_detected_pairs_only'] * 100:.2f}%), "
            f"TAR@FMR1e-3 {figures['tar_at_fmr_1e-3'] * 100:.2f}%, "
            f"{figures['failed_pairs']} of {figures['pairs']} pairs without a face, "
            f"{figures['refused_pairs']} ({figures['refused_fraction']:.1%}) refused by verify "
            f"(by split: {by_split})"
        )
        verify = figures["at_verify_threshold"]
        console.print(
            f"  at verify's threshold {verify['threshold']}: "
            + ", ".join(
                f"split {k} accuracy {v['accuracy']:.1%} (decided {v['accuracy_decided']:.1%})"
                for k, v in verify.items()
                if k != "threshold"
            )
        )
    console.print(
        f"{report['images']} images, {report['undetected']} without a face "
        f"({report['undetected_frontal']} frontal, {report['undetected_profile']} profile)"
    )


@app.command()
def identify(
    data: Path = typer.Option(Path("../shared/data/lfw"), help="LFW folder (images/NAME/*.jpg)."),
    write_calibration: bool = typer.Option(
        False,
        help="Store the impostor tail behind the gallery's fpir_* operating points.",
        metavar="",
    ),
    embedder: str = EmbedderOption,
    as_json: bool = JsonOption,
) -> None:
    """LFW 1:N identification: rank-1, rank-5 and DIR at FPIR 1% through the gallery."""
    from facelens.eval.identify import evaluate_identification
    from facelens.recognition.open_set import OPEN_SET_POINTS

    if not (data / "images").is_dir():
        raise typer.BadParameter(f"{data} has no images/ folder", param_hint="--data")
    total = sum(1 for _ in (data / "images").glob("*/*.jpg"))
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("embedding", total=total)
        report = evaluate_identification(
            data,
            lambda: progress.advance(task),
            write_calibration=write_calibration,
            embedder=embedder,
        )
    if as_json:
        emit_json(report)
        return
    console.print(
        f"rank-1 {report['rank1'] * 100:.2f}%, rank-5 {report['rank5'] * 100:.2f}%, "
        f"DIR@FPIR1% {report['dir_at_fpir_0.01'] * 100:.2f}% "
        f"({report['gallery_people']} enrolled, {report['mated_probes']} mated and "
        f"{report['non_mated_probes']} non-mated probes)"
    )
    for fuse, rates in report["fusion"].items():
        console.print(
            f"two templates, {fuse} fusion: rank-1 {rates['rank1'] * 100:.2f}%, "
            f"rank-5 {rates['rank5'] * 100:.2f}%, "
            f"DIR@FPIR1% {rates['dir_at_fpir_0.01'] * 100:.2f}% "
            f"({rates['templates']} templates, {rates['mated_probes']} mated probes)"
        )
    flip = report["flip"]
    console.print(
        f"one template, flip-fused embeddings: rank-1 {flip['rank1'] * 100:.2f}%, "
        f"rank-5 {flip['rank5'] * 100:.2f}%, DIR@FPIR1% {flip['dir_at_fpir_0.01'] * 100:.2f}%"
    )
    check = report["open_set_check"]
    console.print(
        f"open-set thresholds at {check['templates']} templates, predicted / measured: "
        + ", ".join(
            f"{name} {v['predicted']:.4f} / {v['measured']:.4f}"
            for name, v in check.items()
            if name in OPEN_SET_POINTS
        )
    )
    console.print(
        "strangers matched to someone with a 1:1 threshold: "
        + ", ".join(f"{p} {v:.1%}" for p, v in check["fpir_at_one_to_one_points"].items())
    )


@app.command()
def detection(
    data: Path = typer.Option(Path("../shared/data"), help="The shared data folder."),
    frames: int = typer.Option(40, min=1, help="Constructed 1080p scenes (14 faces each)."),
    empty: int = typer.Option(20, min=0, help="Face-free 1080p frames (false positives)."),
    seed: int = typer.Option(0, help="Seed of the constructed scenes."),
    as_json: bool = JsonOption,
) -> None:
    """Scene detection: recall by face size, FP per frame, ms per frame, CFP profiles found."""
    from facelens.eval.detection_scenes import evaluate_scenes, markdown, threshold_markdown

    if not (data / "cfp-dev").is_dir():
        raise typer.BadParameter(f"{data} has no cfp-dev/ folder", param_hint="--data")
    with console.status("building scenes and running every design"):
        report = evaluate_scenes(data, frames, empty, seed)
    if as_json:
        emit_json(report)
        return
    console.print(
        f"{report['faces_1080p']} faces in {report['frames']['1080p']} 1080p scenes "
        f"(per size bucket: {report['faces_per_bucket']}), {report['frames']['empty']} "
        "face-free frames"
    )
    console.print(markdown(report), markup=False)
    console.print(threshold_markdown(report), markup=False)
