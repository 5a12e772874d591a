"""A fitted head as ONNX (checked against torch) with its model card beside it.

The ONNX metadata carries what the runtime needs (attributes.embedding_head): the target,
the embedder and, for age, the residual table of the 90% interval measured on the
validation split. The card (NAME.card.json and NAME.card.md) says what the model was
trained on, under which terms, how well it did on its validation split and how to remake it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from facelens.eval.attributes import INTERVAL_EDGES
from facelens.train.heads import HeadConfig, Readout, predict

OPSET = 17
TOLERANCE = 1e-4  # largest |ONNX − torch| accepted (years or probability)
MIN_FACES_PER_RANGE = 20  # a residual range with fewer faces uses all faces' quantiles


def residual_table(years: np.ndarray, truth: np.ndarray) -> list[list[float | None]]:
    """[predicted years below (None: no limit), 5% and 95% quantiles of true − predicted]
    per range of INTERVAL_EDGES (the layout of attributes.age.RESIDUAL_QUANTILES)."""
    residual = truth - years
    overall = np.quantile(residual, [0.05, 0.95])
    upper = np.searchsorted(INTERVAL_EDGES, years, side="right")
    rows: list[list[float | None]] = []
    for i, edge in enumerate(INTERVAL_EDGES):
        members = residual[upper == i]
        low, high = (
            np.quantile(members, [0.05, 0.95]) if len(members) >= MIN_FACES_PER_RANGE else overall
        )
        rows.append([edge if np.isfinite(edge) else None, round(low, 2), round(high, 2)])
    return rows


def export(
    readout: Readout, config: HeadConfig, out: Path, check: np.ndarray, metadata: dict[str, str]
) -> float:
    """Write `readout` to `out` with `metadata`; returns the largest |ONNX − torch| on the
    `check` vectors (raises if it exceeds TOLERANCE)."""
    output = "female" if config.target == "gender" else "years"
    session = export_onnx(readout, torch.zeros(2, check.shape[1]), out, output, metadata)
    from_onnx = session.run(None, {"embedding": check.astype(np.float32)})[0]
    return checked_difference([from_onnx.reshape(-1)], [predict(readout, check)])


def checked_difference(
    from_onnx: list[np.ndarray], from_torch: list[np.ndarray], tolerance: float = TOLERANCE
) -> float:
    """The largest |ONNX − torch| over matching outputs; raises when it exceeds `tolerance`."""
    pairs = zip(from_onnx, from_torch, strict=True)
    difference = max(float(np.max(np.abs(a - b))) for a, b in pairs)
    if difference > tolerance:
        raise RuntimeError(f"ONNX export differs from torch by {difference:g}")
    return difference


def export_onnx(
    module: torch.nn.Module, example: torch.Tensor, out: Path, output: str, metadata: dict[str, str]
) -> ort.InferenceSession:
    """Write `module` (input "embedding", batch dynamic) to `out` with `metadata`; returns an
    ONNX Runtime session of the file, for the caller's check against torch."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the TorchScript exporter: fine for these small nets
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module.eval(),
            (example,),
            str(out),
            input_names=["embedding"],
            output_names=[output],
            dynamic_axes={"embedding": {0: "faces"}},
            opset_version=OPSET,
            dynamo=False,
        )
    model = onnx.load(str(out))
    onnx.helper.set_model_props(model, metadata)
    onnx.save(model, str(out))
    return ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def finish_card(out: Path, card: dict, difference: float, command: str) -> dict:
    """The card completed with the export check, the file's sha256 and the command, written
    beside the ONNX file (write_card); returned."""
    card |= {"onnx_max_difference": difference, "sha256": sha256(out), "command": command}
    write_card(out, card)
    return card


def write_card(out: Path, card: dict) -> tuple[Path, Path]:
    """NAME.card.json and a human-readable NAME.card.md beside the ONNX file (any trained
    attribute model: the card's keys are those `attribute_heads.train_head` writes)."""
    json_path = out.with_suffix(".card.json")
    json_path.write_text(json.dumps(card, indent=2) + "\n")
    lines = [
        f"# {out.name}: {card['target']}"
        + (f" from the {card['embedder']} embedding" if card.get("embedder") else ""),
        "",
        f"- Model: {card['model']}",
        f"- Data: {card['data']['folder']} ({card['data']['faces']} faces, "
        f"{card['data']['validation_faces']} held out for validation, seed {card['seed']})",
        f"- Terms of the data: {card['data']['terms']}",
        f"- Validation: {card['validation_summary']}",
        f"- Training time: {card['training_seconds']:.0f} s ("
        + card.get("schedule", f"{card['epochs']} epochs, early stopping on the validation split")
        + ")",
        f"- ONNX vs torch: largest difference {card['onnx_max_difference']:.2g}",
        f"- sha256: {card['sha256']}",
        "",
        "Remake it with:",
        "",
        f"    {card['command']}",
        "",
    ]
    md_path = out.with_suffix(".card.md")
    md_path.write_text("\n".join(lines))
    return json_path, md_path
