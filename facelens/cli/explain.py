"""`facelens explain`, `facelens explain-pair`, `facelens explain-reconstruct` and
`facelens eval explain`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from facelens.cli.attributes import ModelOption, attribute_models
from facelens.cli.output import EmbedderOption, JsonOption, console, emit_json, reporting_errors
from facelens.drawing import with_legend

TARGETS = ("expression", "age", "gender", "embedding")
METHODS = ("gradcam", "gradcam++", "occlusion")
PAIR_METHODS = ("corrrise", "gradient", "transplant")
FILLS = ("blur", "other_face")


def _check(value: str, allowed: tuple[str, ...], hint: str) -> None:
    if value not in allowed:
        raise typer.BadParameter(f"choose one of {', '.join(allowed)}", param_hint=hint)


def _check_method_options(
    method: str, layer: str | None, patch: int | None, stride: float | None
) -> None:
    """Refuse an option the chosen method would silently ignore."""
    if method == "occlusion" and layer is not None:
        raise typer.BadParameter("Grad-CAM's layer; occlusion has none", param_hint="--layer")
    if method != "occlusion" and (patch is not None or stride is not None):
        hint = "--patch" if patch is not None else "--stride"
        raise typer.BadParameter(f"an occlusion option; {method} has none", param_hint=hint)


def _faithfulness_line(result: object) -> str:
    faith = getattr(result, "faithfulness", None)
    if faith is None:
        return "faithfulness: not computed"
    return (
        f"deletion AUC {faith.deletion_auc:.3f} (random {faith.random_deletion_auc:.3f}, "
        f"centre {faith.centre_deletion_auc:.3f}), insertion AUC {faith.insertion_auc:.3f}"
        + ("" if faith.reliable else "  [unreliable: the curves barely move the score]")
    )


def explain(
    image: Path,
    target: str = typer.Option("expression", help="age, gender, expression or embedding."),
    method: str = typer.Option("gradcam", help="gradcam, gradcam++ or occlusion."),
    class_name: str | None = typer.Option(
        None, "--class", help="Class to explain (default: the predicted one; age: 'years')."
    ),
    reference: Path | None = typer.Option(
        None, help="embedding target: explain the similarity to this photo's face."
    ),
    layer: str | None = typer.Option(None, help="Grad-CAM layer (default: see targets.py)."),
    patch: int | None = typer.Option(None, min=1, help="occlusion patch size, crop pixels."),
    stride: float | None = typer.Option(
        None, help="occlusion stride, crop pixels (> 0; a grid too fine is refused)."
    ),
    face: int = typer.Option(0, min=0, help="Which face (0 = largest)."),
    out: Path | None = typer.Option(None, help="Write the overlay PNG here."),
    faithfulness: bool = typer.Option(True, help="Compute deletion/insertion numbers.", metavar=""),
    device: str = typer.Option("cpu", help="torch device for gradients (cpu, cuda, ...)."),
    embedder: str = EmbedderOption,
    model: str | None = typer.Option(
        None,
        help="The attribute's network, as `analyze --model` takes it (e.g. a .onnx file from "
        "`facelens train expression|crop`; a head is explained through the crop network it "
        "blends with, and refused when it blends with none).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show which regions of a face drive an attribute or the embedding."""
    from facelens import explain as api
    from facelens.explain import render

    _check(target, TARGETS, "--target")
    _check(method, METHODS, "--method")
    _check_method_options(method, layer, patch, stride)
    with reporting_errors(as_json):
        if method == "occlusion":
            result = api.occlusion(
                image, target, class_name, patch, stride, reference=reference, face=face,
                device=device, faithfulness=faithfulness, embedder=embedder, model=model,
            )  # fmt: skip
        else:
            result = api.gradcam(
                image, target, class_name, method == "gradcam++", layer, reference, face,
                device, faithfulness, embedder, model,
            )  # fmt: skip
    if out is not None:
        title = f"{result.method} for {result.target} (score {result.score:.3f})"
        signed = result.value_range[0] < 0
        render.save_png(with_legend(render.overlay(result), title, signed), out)
    if as_json:
        emit_json(result)
        return
    summary = result.crop_summary
    console.print(
        f"{result.method} for {result.target} (score {result.score:.3f}): "
        f"peak at crop ({summary.peak[0]}, {summary.peak[1]}), {result.seconds * 1000:.0f} ms"
    )
    console.print(_faithfulness_line(result))
    if out is not None:
        console.print(f"overlay written to {out}")


def explain_pair(
    image_a: Path,
    image_b: Path,
    # The same defaults as REST's /v1/explain/pair: gradient answers in about a second;
    # CorrRISE (black-box, slower: ~30 s at 1,000 masks on 2 cores) on request.
    method: str = typer.Option("gradient", help="gradient, corrrise or transplant."),
    masks: int = typer.Option(300, min=1, max=4000, help="CorrRISE masks per image."),
    fill: str = typer.Option("blur", help="CorrRISE fill: blur or other_face."),
    operating_point: str = typer.Option("accuracy", "--operating-point", "-p"),
    out: Path | None = typer.Option(None, help="Write the side-by-side panel PNG here."),
    faithfulness: bool = typer.Option(True, help="Compute deletion/insertion numbers.", metavar=""),
    device: str = typer.Option("cpu", help="torch device (cuda runs CorrRISE on the GPU)."),
    embedder: str = EmbedderOption,
    as_json: bool = JsonOption,
) -> None:
    """Similar (green) and dissimilar (red) regions of both faces of a pair."""
    from facelens import explain as api
    from facelens.explain import render

    _check(method, PAIR_METHODS, "--method")
    _check(fill, FILLS, "--fill")
    with (
        reporting_errors(as_json),
        Progress(console=console, transient=True, disable=as_json or method != "corrrise") as bar,
    ):
        task = bar.add_task("CorrRISE masks", total=2 * masks)
        result = api.pair(
            image_a, image_b, method, masks, operating_point, device=device,
            faithfulness=faithfulness, fill=fill,  # type: ignore[arg-type]
            progress=lambda done: bar.advance(task, done), embedder=embedder,
        )  # fmt: skip
    if out is not None:
        render.save_png(render.pair_panel(result), out)
    if as_json:
        emit_json(result)
        return
    verdict = "[green]same person[/green]" if result.same_person else "[red]different people[/red]"
    console.print(
        f"{verdict}: {result.embedder} similarity {result.similarity:.3f} "
        f"(threshold {result.threshold})"
    )
    for name, side in (("A", result.a), ("B", result.b)):
        s = side.crop_summary
        console.print(
            f"{name}: most similar at {s.peak}, most dissimilar at {s.trough} (crop pixels); "
            + _faithfulness_line(side)
        )
    if out is not None:
        console.print(f"panel written to {out}")


def explain_reconstruct(
    image: Path,
    image_b: Path | None = typer.Argument(None, help="A second face: compare the two."),
    face: int = typer.Option(0, help="Which face of IMAGE (0 = largest)."),
    face_b: int = typer.Option(0, help="Which face of IMAGE_B."),
    maps: bool = typer.Option(
        False, help="Pairs: add the similar/dissimilar maps (gradient method, ~3 s).", metavar=""
    ),
    decoder: Path | None = typer.Option(None, help="A decoder ONNX file (default: shipped)."),
    out: Path | None = typer.Option(None, help="Write the panel PNG here."),
    as_json: bool = JsonOption,
) -> None:
    """What the embedding keeps of a face: its reconstruction from the embedding and the
    regions the embedding encodes; with two images, where their reconstructions differ."""
    from facelens import explain as api
    from facelens.explain import render, render_reconstruction
    from facelens.explain.decoder import FaceDecoderModel

    with reporting_errors(as_json):
        model = FaceDecoderModel(decoder) if decoder else None
        if image_b is None:
            result = api.reconstruct(image, face, decoder=model)
            picture = render_reconstruction.reconstruction_panel(result)
        else:
            pair_maps = api.pair(image, image_b, "gradient", face_a=face, face_b=face_b,
                                 faithfulness=False) if maps else None  # fmt: skip
            result = api.reconstruct_pair(image, image_b, face, face_b, decoder=model,
                                            pair_maps=pair_maps)  # fmt: skip
            picture = render_reconstruction.reconstruction_pair_panel(result)
    if out is not None:
        render.save_png(picture, out)
    if as_json:
        emit_json(result)
        return
    if isinstance(result, api.Reconstruction):
        peak = result.region_summary.peak
        console.print(
            f"reconstructed from the {result.embedder} embedding: cosine to the face "
            f"{result.cosine:.3f}; most encoded region at crop {peak} ({result.size} px), "
            f"{result.seconds * 1000:.0f} ms"
        )
    else:
        console.print(
            f"similarity {result.similarity:.3f} (faces), {result.reconstruction_similarity:.3f} "
            f"(reconstructions); mean difference {result.difference_summary.mean:.3f}, "
            f"largest at crop {result.difference_summary.peak}"
        )
    if out is not None:
        console.print(f"panel written to {out}")


def eval_explain(
    data: Path = typer.Option(Path("../shared/data/lfw"), help="LFW folder with pairs.txt."),
    pairs: int = typer.Option(200, help="Held-out pairs (half genuine, half impostor)."),
    masks: int = typer.Option(1000, help="CorrRISE masks per image."),
    methods: str = typer.Option("corrrise,gradient", help="Comma-separated pair methods."),
    fill: str = typer.Option("blur", help="CorrRISE fill: blur or other_face."),
    faces: int = typer.Option(
        20, help="Also score the single-face methods (Grad-CAM, ...) on this many faces."
    ),
    embedder: str = EmbedderOption,
    model: list[str] | None = ModelOption,
    as_json: bool = JsonOption,
) -> None:
    """Pair maps on LFW's held-out tenth fold: deletion/insertion vs baselines, region game."""
    from facelens.eval.explain import evaluate_explain, evaluate_single_face

    if not (data / "pairs.txt").is_file():
        raise typer.BadParameter(f"{data} has no pairs.txt", param_hint="--data")
    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    models = {kind: str(spec) for kind, spec in attribute_models(model).__dict__.items()}
    for method in chosen:
        _check(method, PAIR_METHODS, "--methods")
    _check(fill, FILLS, "--fill")
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("explaining pairs", total=pairs)
        report = evaluate_explain(
            data,
            pairs,
            chosen,
            masks,
            lambda: progress.advance(task),
            fill,  # type: ignore[arg-type]
            embedder,
        )
        if faces > 0:
            task = progress.add_task("single-face methods", total=faces)
            report["single_face"] = evaluate_single_face(
                data, faces, lambda: progress.advance(task), embedder, models
            )
    if as_json:
        emit_json(report)
        return
    console.print(
        f"{report['embedder']}: {report['pairs']} pairs of fold {report['fold']} "
        f"({report['skipped']} skipped)"
    )
    for method, r in report["methods"].items():
        hits = r["region_game_hit_rate"]
        console.print(
            f"{method:>9}: deletion {r['deletion_auc']:.3f} (random {r['random_deletion_auc']:.3f},"
            f" centre {r['centre_deletion_auc']:.3f}), insertion {r['insertion_auc']:.3f} "
            f"(random {r['random_insertion_auc']:.3f}, centre {r['centre_insertion_auc']:.3f}), "
            f"region game {'n/a' if hits is None else f'{hits:.0%}'} of "
            f"{r['region_game_trials']}, "
            f"{r['seconds_per_pair']:.1f} s/pair"
        )
    for name, r in report.get("single_face", {}).items():
        if isinstance(r, dict) and "deletion_auc" in r:  # not "faces" nor "explained"
            console.print(
                f"{name:>30}: deletion {r['deletion_auc']:.3f} (random "
                f"{r['random_deletion_auc']:.3f}, centre {r['centre_deletion_auc']:.3f}), "
                f"insertion {r['insertion_auc']:.3f}"
            )


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
    app.command("explain-pair")(explain_pair)
    app.command("explain-reconstruct")(explain_reconstruct)


def register_eval(eval_app: typer.Typer) -> None:
    eval_app.command("explain")(eval_explain)
