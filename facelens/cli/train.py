"""`facelens train age|gender|crop|expression`: attribute models trained on your own labelled faces.

The training code lives in facelens/train and is imported inside each command, so the
runtime never loads it. Use the result with `FaceLens(attribute_models={"age": PATH})` or
`facelens analyze --model age=PATH`.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress

from facelens.cli.output import JsonOption, console, emit_json, errors, reporting_errors
from facelens.recognition.registry import EMBEDDER_NAMES

app = typer.Typer(no_args_is_help=True, help="Train attribute models on your own data.")

DataOption = typer.Option(
    ..., "--data", help="Folder of UTKFace-style images named AGE_GENDER_RACE_*.jpg."
)
OutOption = typer.Option(..., "--out", help="The ONNX file to write (model card beside it).")
HeadEmbedder = typer.Option("fused", help="The embedding the head reads: fused, sface or dlib.")
HiddenOption = typer.Option(256, min=0, help="Hidden units of the MLP (0: a linear head).")
TermsOption = typer.Option(None, help="The data's licence terms, for the model card.")
CacheOption = typer.Option(
    True, help="Cache the embeddings under artifacts/attribute-cache.", metavar=""
)
EpochsOption = typer.Option(300, min=1, help="At most this many epochs (early stopping).")
HeadRateOption = typer.Option(3e-3, min=1e-6, max=1.0, help="AdamW's learning rate.")
BlendOption = typer.Option(
    True,
    help="Blend with a crop network (--blend-with) where that helps on the validation split.",
    metavar="",
)
BlendWithOption = typer.Option(
    "faceapi-utk",
    help="The crop network to blend with: faceapi-utk (the fine-tune, the default crop "
    "network) or faceapi (face-api's own weights).",
)


CARD_SUFFIXES = (".card.json", ".card.md")  # the model card, written beside --out
CHECKPOINT_SUFFIX = ".checkpoint.pt"  # a resumable run's checkpoint, beside --out


def _check_paths(data: Path, out: Path, checkpointed: bool = False) -> None:
    """Refuse bad paths before training: a run can take hours, and it writes --out last.
    `checkpointed`: the run also writes OUT.checkpoint.pt."""
    if not data.is_dir():
        raise typer.BadParameter(f"{data} is not a folder", param_hint="--data")
    if out.suffix != ".onnx":
        raise typer.BadParameter("the model file must end in .onnx", param_hint="--out")
    suffixes = CARD_SUFFIXES + ((CHECKPOINT_SUFFIX,) if checkpointed else ())
    _check_writable(out, [out.with_suffix(suffix) for suffix in suffixes])


def _check_writable(out: Path, beside: list[Path]) -> None:
    """--out and the files `beside` it can be written: none is a folder, and their folder
    exists or can be made (its nearest existing ancestor is a folder we may write in)."""
    for path in (out, *beside):
        if path.is_dir():
            raise typer.BadParameter(f"{path} is a folder", param_hint="--out")
    ancestor = _nearest_existing(out.parent)
    if not ancestor.is_dir():
        raise typer.BadParameter(
            f"cannot write {out}: {ancestor} is not a folder", param_hint="--out"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"no permission to write in {ancestor}", param_hint="--out")


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _path_words(data: Path, out: Path) -> str:
    """`--data DATA --out OUT` for the card's command, quoted so that it can be pasted."""
    return f"--data {shlex.quote(str(data))} --out {shlex.quote(str(out))}"


def _run(
    train_head: Callable[..., dict],
    config: Any,  # facelens.train.heads.HeadConfig (training code loads only in a command)
    data: Path,
    out: Path,
    flags: dict,
    terms: str | None,
    cache: bool,
    with_crop: bool,
    blend_with: str,
    as_json: bool,
) -> None:
    """Check the paths, train, report. `flags`: the options to record in the card's command."""
    _check_paths(data, out)
    from facelens.attributes.embedding_head import CROP_NETWORKS

    if blend_with not in CROP_NETWORKS:
        raise typer.BadParameter(f"choose one of {CROP_NETWORKS}", param_hint="--blend-with")
    flags = {**flags, "blend_with": blend_with} if with_crop else {**flags, "no_blend": ""}
    if config.embedder not in EMBEDDER_NAMES:
        raise typer.BadParameter(f"choose one of {EMBEDDER_NAMES}", param_hint="--embedder")
    target = config.target
    options = " ".join(
        f"--{key.replace('_', '-')}" + (f" {shlex.quote(str(value))}" if value != "" else "")
        for key, value in flags.items()
    )
    command = f"facelens train {target} {_path_words(data, out)} {options}"
    with (
        reporting_errors(as_json),
        Progress(console=console, transient=True, disable=as_json) as progress,
    ):
        task = progress.add_task("embedding faces", total=None)
        card = train_head(
            target,
            data,
            out,
            config,
            terms=terms,
            command=command,
            cache=cache,
            with_crop_network=with_crop,
            crop_network=blend_with,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    _report(card, out, as_json)


@app.command()
def gender(
    data: Path = DataOption,
    out: Path = OutOption,
    embedder: str = HeadEmbedder,
    hidden: int = HiddenOption,
    epochs: int = EpochsOption,
    learning_rate: float = HeadRateOption,
    terms: str | None = TermsOption,
    cache: bool = CacheOption,
    blend: bool = BlendOption,
    blend_with: str = BlendWithOption,
    as_json: bool = JsonOption,
) -> None:
    """A gender head (probability of "female") on a recognition embedding."""
    from facelens.train.attribute_heads import train_head
    from facelens.train.heads import HeadConfig

    config = HeadConfig("gender", embedder, hidden, epochs=epochs, learning_rate=learning_rate)
    flags = {
        "embedder": embedder,
        "hidden": hidden,
        "epochs": epochs,
        "learning_rate": learning_rate,
    }
    _run(train_head, config, data, out, flags, terms, cache, blend, blend_with, as_json)


@app.command()
def age(
    data: Path = DataOption,
    out: Path = OutOption,
    embedder: str = HeadEmbedder,
    hidden: int = HiddenOption,
    age_mode: str = typer.Option(
        "classes", help="classes (soft labels over 0-100, expected age) or regression."
    ),
    epochs: int = EpochsOption,
    learning_rate: float = HeadRateOption,
    terms: str | None = TermsOption,
    cache: bool = CacheOption,
    blend: bool = BlendOption,
    blend_with: str = BlendWithOption,
    as_json: bool = JsonOption,
) -> None:
    """An age head (years, with a 90% interval from validation residuals)."""
    if age_mode not in ("classes", "regression"):
        raise typer.BadParameter("choose classes or regression", param_hint="--age-mode")
    from facelens.train.attribute_heads import train_head
    from facelens.train.heads import HeadConfig

    config = HeadConfig(
        "age", embedder, hidden, age_mode, epochs=epochs, learning_rate=learning_rate
    )
    flags = {
        "embedder": embedder,
        "hidden": hidden,
        "age_mode": age_mode,
        "epochs": epochs,
        "learning_rate": learning_rate,
    }
    _run(train_head, config, data, out, flags, terms, cache, blend, blend_with, as_json)


def _report(card: dict, out: Path, as_json: bool) -> None:
    if as_json:
        emit_json(card)
        return
    console.print(
        f"{out}: {card['validation_summary']} on {card['data']['validation_faces']} validation "
        f"faces; {card['training_seconds']:.0f} s, {card['epochs']} epochs; model card "
        f"{out.with_suffix('.card.md')}",
        markup=False,
    )


@app.command()
def crop(
    data: Path = DataOption,
    out: Path = OutOption,
    epochs: int = typer.Option(8, min=1, help="Epochs (the best on the validation split wins)."),
    learning_rate: float = typer.Option(
        1e-4, min=1e-7, max=1.0, help="Adam's, at the start of the cosine schedule."
    ),
    terms: str | None = TermsOption,
    as_json: bool = JsonOption,
) -> None:
    """Fine-tune face-api's age/gender crop network (checkpointed: a rerun resumes).
    Use it for age, gender or both: `--model age=FILE --model gender=FILE`."""
    from facelens.train.crop_network_export import train_crop_network

    _check_paths(data, out, checkpointed=True)
    command = (
        f"facelens train crop {_path_words(data, out)} --epochs {epochs} "
        f"--learning-rate {learning_rate:g}"
    )
    with reporting_errors(as_json):
        card = train_crop_network(
            data, out, epochs, terms, command, log=errors.print, learning_rate=learning_rate
        )
    _report(card, out, as_json)


@app.command()
def expression(
    data: Path = typer.Option(
        ..., "--data", help="Folder with one folder of 48×48 grey faces per FER2013 class."
    ),
    out: Path = OutOption,
    epochs: int = typer.Option(40, min=1, help="At most this many epochs (early stopping)."),
    width: int = typer.Option(16, min=4, help="Channels of the first convolution block."),
    network: str = typer.Option(
        "cnn",
        help="cnn: a small CNN from scratch (checkpointed: a rerun resumes); faceapi: a head on "
        "face-api's expression features (minutes).",
    ),
    terms: str | None = TermsOption,
    as_json: bool = JsonOption,
) -> None:
    """An expression network for the seven FER2013 classes."""
    from facelens.train.expression_model import train_expression

    if network not in ("cnn", "faceapi"):
        raise typer.BadParameter("must be cnn or faceapi", param_hint="--network")
    _check_paths(data, out, checkpointed=network == "cnn")
    options = f"--epochs {epochs} --width {width}" if network == "cnn" else "--network faceapi"
    command = f"facelens train expression {_path_words(data, out)} {options}"
    with reporting_errors(as_json):
        card = train_expression(
            data, out, epochs, width, terms, command, log=errors.print, network=network
        )
    _report(card, out, as_json)


@app.command()
def decoder(
    data: Path = typer.Option(
        Path("../shared/data"),
        "--data",
        help="The data folder holding lfw/, cfp-dev/ and utkface-train/.",
    ),
    out: Path = OutOption,
    embedder: str = HeadEmbedder,
    size: int = typer.Option(64, help="Output crop size (4·2^k: 64, 128)."),
    steps: int = typer.Option(2000, min=1, help="Training steps (batches)."),
    pixel_steps: int = typer.Option(600, min=0, help="Pixel-loss-only steps first."),
    identity_batch: int = typer.Option(
        12, min=0, help="Faces of each batch (48) that also get the SFace identity loss."
    ),
    cache: Path = typer.Option(
        Path("/tmp/facelens_recon/cache"), help="Where the crops and embeddings are cached."
    ),
    checkpoint: Path | None = typer.Option(
        None, help="Checkpoint file (default: beside --out, NAME.checkpoint.pt)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """A decoder from a recognition embedding to an aligned face crop (what `facelens
    explain-reconstruct` shows). Checkpointed: a rerun resumes."""
    from facelens.train.decoder import DecoderConfig
    from facelens.train.decoder_export import train_decoder

    _check_paths(data, out, checkpointed=checkpoint is None)
    if embedder not in EMBEDDER_NAMES:
        raise typer.BadParameter(f"choose one of {EMBEDDER_NAMES}", param_hint="--embedder")
    config = DecoderConfig(
        size=size, steps=steps, pixel_steps=pixel_steps, identity_batch=identity_batch
    )
    command = (
        f"facelens train decoder {_path_words(data, out)} --embedder "
        f"{embedder} --size {size} --steps {steps} --pixel-steps {pixel_steps} "
        f"--identity-batch {identity_batch}"
    )
    with reporting_errors(as_json):
        card = train_decoder(
            data, out, config, embedder, cache, command, checkpoint, log=errors.print
        )
    if as_json:
        emit_json(card)
        return
    console.print(
        f"{out}: {card['validation_summary']} on {card['data']['validation_faces']} validation "
        f"faces; {card['training_seconds']:.0f} s training; model card "
        f"{out.with_suffix('.card.md')}",
        markup=False,
    )
