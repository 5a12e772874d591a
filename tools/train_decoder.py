"""Train the shipped face decoder and record its provenance.

    python tools/train_decoder.py [--data ../shared/data] [--cache DIR]

Runs `facelens train decoder` with the shipped settings (fused embedding, 64×64 crops, the
defaults of `facelens.train.decoder.DecoderConfig`, seed 0) into facelens/weights/
(face-decoder.onnx, its model card beside it; the checkpoint goes under artifacts/, so an
interrupted run resumes), then records the file in PROVENANCE.json with the data's terms.
`make decoder` runs this. Progress is printed as it trains.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

import facelens
from facelens.train.decoder import DecoderConfig
from facelens.train.decoder_export import train_decoder
from tools import provenance

NAME = "face-decoder.onnx"
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=ROOT / "artifacts" / "decoder-cache")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "artifacts" / "decoder.pt")
    args = parser.parse_args()
    # The shipped decoder was trained on one thread; float sums split over threads differ in
    # their last bits, so the same recipe pins the same thread count.
    torch.set_num_threads(1)
    out = Path(os.path.relpath(provenance.WEIGHTS / NAME))  # the card's command, portable
    config = DecoderConfig()
    command = (
        f"python tools/train_decoder.py --data {args.data} (= facelens train decoder --data "
        f"{args.data} --out {out} --steps {config.steps} --pixel-steps {config.pixel_steps} "
        f"--identity-batch {config.identity_batch})"
    )
    card = train_decoder(
        args.data,
        out,
        config,
        "fused",
        args.cache,
        command,
        args.checkpoint,
        log=lambda line: print(line, flush=True),
    )
    provenance.record(
        NAME,
        "trained here (facelens train decoder)",
        f"facelens {facelens.__version__}",
        f"{card['data']['faces']} faces ({card['data']['sources']}; "
        f"{card['data']['validation_faces']} held out for validation, seed 0)",
        card["data"]["terms"],
        f"{card['model']}; validation: {card['validation_summary']}; "
        f"{card['training_seconds']:.0f} s training on 1 thread of 2 shared cores; ONNX vs "
        f"torch {card['onnx_max_difference']:.1g}; `python tools/train_decoder.py`",
    )
    print(f"{NAME}: {card['validation_summary']}")


if __name__ == "__main__":
    main()
