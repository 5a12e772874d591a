"""Train the shipped expression head on face-api's features, record its provenance.

    python tools/train_expression_model.py [--data ../shared/data/fer2013-train]

Runs `facelens train expression --network faceapi` (face-api's expression network frozen, a
new head for FER2013's classes: about 4 minutes for the features of 28,709 faces and their
mirror images, 1 for the head, on 2 cores) into facelens/weights/faceapi-expression-fer.onnx
(built-in name "faceapi-fer"; model card beside it) and records it in PROVENANCE.json with the
data's terms. Needs faceapi-expression.onnx (`python tools/convert_faceapi_expression.py`).
`make expression-model` runs this.
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

NAME = "faceapi-expression-fer.onnx"
FACE_API = "npm @vladmandic/face-api 1.7.15 (MIT)"  # the frozen network's weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fer2013-train"))
    args = parser.parse_args()
    out = Path(os.path.relpath(provenance.WEIGHTS / NAME))  # the card's command, portable
    command = ["train", "expression", "--data", str(args.data), "--out", str(out)]
    result = CliRunner().invoke(app, [*command, "--network", "faceapi", "--json"])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    card = json.loads(result.stdout)  # also written beside the file (NAME.card.md/json)
    provenance.record(
        NAME,
        f"face-api's expression network ({FACE_API}), a head trained here "
        "(facelens train expression --network faceapi)",
        f"facelens {facelens.__version__}",
        f"{card['data']['faces']} FER2013 training faces ({args.data}; "
        f"{card['data']['validation_faces']} held out for validation, seed 0)",
        f"MIT (face-api's weights); {card['data']['terms']}",
        f"{card['model']}; validation: {card['validation_summary']}; "
        f"{card['training_seconds']:.0f} s on 2 cores; ONNX vs torch "
        f"{card['onnx_max_difference']:.1g}; `python tools/train_expression_model.py`",
    )
    print(f"{NAME}: {card['validation_summary']}")


if __name__ == "__main__":
    main()
