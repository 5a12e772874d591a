"""Train the shipped age and gender heads and the fine-tuned crop network, record provenance.

    python tools/train_attribute_heads.py [--data ../shared/data/utkface-train]
                                          [--only crop,gender,age,age-dlib]

Runs `facelens train gender` and `facelens train age` with the shipped settings (MLP with 256
hidden units, age as classes, seed 0, the blend chosen on the validation split) into
facelens/weights/ (each with its model card beside it): on the fused embedding blended with
face-api's own weights (`gender`, `age`: built-in name "head") and, for age, on the dlib
embedding blended with the fine-tune (`age-dlib`: "dlib-head", the default age model; it
needs the fine-tune, so `crop` runs first), then records each file in PROVENANCE.json with
the data's terms. `make attribute-heads` runs
this. Embeddings are cached under artifacts/attribute-cache/ (the first run embeds 7,000
faces: about 12 minutes on 2 quiet cores, 25 on busy ones). `crop` runs `facelens train
crop` (face-api's AgeGenderNet fine-tuned, 8 epochs: about 16 minutes on 2 quiet cores) into
faceapi-age-gender-utk.onnx.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import facelens
from facelens.cli import app
from tools import provenance

# name -> (the `facelens train` command, the file, its options)
SHIPPED = {
    "crop": ("crop", "faceapi-age-gender-utk.onnx", []),
    "gender": ("gender", "gender-head.onnx", ["--blend-with", "faceapi"]),
    "age": ("age", "age-head.onnx", ["--blend-with", "faceapi"]),
    "age-dlib": ("age", "age-head-dlib.onnx", ["--embedder", "dlib"]),
}
FACE_API = "npm @vladmandic/face-api 1.7.15 (MIT)"  # the crop network's starting weights
# measured on the first, uncached run (artifacts/attribute-cache keeps the results)
EMBEDDING_TIME = (
    "7,000 faces: 6 min for both embeddings and face-api's outputs + 6 min for the fine-tune's "
    "outputs on 2 quiet cores (25 min in all under load)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/utkface-train"))
    parser.add_argument("--only", default=",".join(SHIPPED), help="Which, comma-separated.")
    args = parser.parse_args()
    for which in args.only.split(","):
        target, name, options = SHIPPED[which]
        out = Path(os.path.relpath(provenance.WEIGHTS / name))  # the card's command, portable
        command = ["train", target, "--data", str(args.data), "--out", str(out), *options]
        command.append("--json")
        result = CliRunner().invoke(app, command)
        if result.exit_code != 0:
            raise SystemExit(result.output)
        card = json.loads(result.stdout)  # also written beside the file (NAME.card.md/json)
        if target == "crop":
            _record_crop(name, card, args.data)
        else:
            _record_head(name, card, args.data)
        print(f"{name}: {card['validation_summary']}")


def _record_head(name: str, card: dict, data: Path) -> None:
    provenance.record(
        name,
        "trained here (facelens train)",
        f"facelens {facelens.__version__}",
        f"{card['data']['faces']} UTKFace faces ({data}; "
        f"{card['data']['validation_faces']} held out for validation, seed 0)",
        card["data"]["terms"],
        f"{card['model']} on the {card['embedder']} embedding; validation: "
        f"{card['validation_summary']}; {card['training_seconds']:.0f} s fitting on 2 shared "
        f"cores, after embedding the faces once ({EMBEDDING_TIME}); ONNX vs torch "
        f"{card['onnx_max_difference']:.1g}; `python tools/train_attribute_heads.py`",
    )


def _record_crop(name: str, card: dict, data: Path) -> None:
    provenance.record(
        name,
        f"face-api's AgeGenderNet ({FACE_API}) fine-tuned here (facelens train crop)",
        f"facelens {facelens.__version__}",
        f"{card['data']['faces']} UTKFace faces ({data}; "
        f"{card['data']['validation_faces']} held out for validation, seed 0)",
        f"MIT (face-api's weights); {card['data']['terms']}",
        f"{card['model']}; validation: {card['validation_summary']}; "
        f"{card['training_seconds']:.0f} s on 2 cores; ONNX vs torch "
        f"{card['onnx_max_difference']:.1g}; "
        "`python tools/train_attribute_heads.py --only crop`",
    )


if __name__ == "__main__":
    main()
