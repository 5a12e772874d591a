"""`facelens train expression`: train (facelens/train/expression.py), export, document.

The ONNX file (N×1×48×48 grey 0..1 in, N×7 probabilities out, the validation temperature
inside) is what attributes.expression_net runs; the model card sits beside it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from facelens.attributes.expression import LABELS
from facelens.eval.attributes import calibration_error
from facelens.train import expression, expression_probe, head_export

FER2013_TERMS = (
    "FER2013 (Goodfellow et al. 2013; Kaggle 'Challenges in Representation Learning: "
    "Facial Expression Recognition Challenge'): used under that competition's terms "
    "(research, non-commercial); a model trained on it inherits them"
)
UNKNOWN_TERMS = "not recorded: the terms of the training data apply (pass --terms)"


def export(model: torch.nn.Module, out: Path, check: np.ndarray) -> float:
    """ONNX with its metadata; returns the largest |ONNX − torch| probability on `check`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model.eval(),
            (torch.zeros(2, 1, expression.SIZE, expression.SIZE),),
            str(out),
            input_names=["grey"],
            output_names=["probabilities"],
            dynamic_axes={"grey": {0: "faces"}},
            opset_version=head_export.OPSET,
            dynamo=False,
        )
    graph = onnx.load(str(out))
    metadata = {"facelens.target": "expression", "facelens.labels": ",".join(LABELS)}
    onnx.helper.set_model_props(graph, metadata)
    onnx.save(graph, str(out))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    batch = expression.to_tensor(check)
    from_onnx = session.run(None, {"grey": batch.numpy()})[0]
    with torch.no_grad():
        return head_export.checked_difference([from_onnx], [model(batch).numpy()])


def train_expression(
    data: Path,
    out: Path,
    epochs: int = 40,
    width: int = 16,
    terms: str | None = None,
    command: str = "",
    checkpoint: Path | None = None,
    log: Callable[[str], None] = print,
    network: str = "cnn",
) -> dict:
    """Train, export and document an expression network; returns its card (also written).
    network: "cnn" (the small CNN, trained from scratch) or "faceapi" (a head on face-api's
    expression features, facelens/train/expression_probe.py)."""
    started = time.perf_counter()
    images, labels = expression.load_folder(data)
    source = str(Path(data).resolve())
    model: torch.nn.Module
    if network == "faceapi":
        # the faces as the runtime cuts them: a head trained on the raw frames did worse
        # through the runtime's detector and crop than on the frames themselves
        images = expression_probe.runtime_crops(Path(data), labels)
        probe = expression_probe.train_probe(images, labels, log, source)
        model, temperature = probe.net, probe.net.temperature
        epochs_run, seconds = probe.epochs, probe.seconds
        description = (
            f"face-api's expression network ({expression_probe.BASE_FILE}, frozen) with a new "
            f"head (MLP, {expression_probe.HIDDEN} hidden units), 48×48 grey in"
        )
    else:
        checkpoint = checkpoint or out.with_suffix(".checkpoint.pt")
        trained = expression.train(
            images, labels, checkpoint, epochs=epochs, width=width, log=log, source=source
        )
        model = expression.Probabilities(trained.net, trained.temperature)
        temperature, epochs_run, seconds = trained.temperature, trained.epochs, trained.seconds
        description = f"CNN, 3 blocks of 2 convolutions (width {width}), 48×48 grey in"
    _, valid = expression.stratified_split(labels)
    difference = export(model, out, images[valid][:64])
    # the card's figures from the exported file as the runtime runs it (ONNX Runtime, each
    # face and its mirror image averaged: attributes.expression_net; the face-api graph runs
    # far faster there than through its torch twin)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])

    def run(faces: np.ndarray) -> np.ndarray:
        grey = expression.to_tensor(np.ascontiguousarray(faces)).numpy()
        return np.concatenate(
            [session.run(None, {"grey": grey[i : i + 256]})[0] for i in range(0, len(grey), 256)]
        )

    probabilities = (run(images[valid]) + run(images[valid][:, :, ::-1])) / 2
    predicted, truth = probabilities.argmax(1), labels[valid]
    recall = {
        label: float(np.mean(predicted[truth == i] == i))
        for i, label in enumerate(LABELS)
        if (truth == i).any()
    }
    accuracy = float(np.mean(predicted == truth))
    ece = calibration_error(probabilities.max(1), predicted == truth)
    card = {
        "name": out.name,
        "target": "expression",
        "model": description,
        "seed": expression.SEED,
        "data": {
            "folder": str(data),
            "faces": len(labels),
            "validation_faces": len(valid),
            "terms": terms or (FER2013_TERMS if "fer" in str(data).lower() else UNKNOWN_TERMS),
        },
        "temperature": temperature,
        "validation": {"accuracy": accuracy, "recall": recall, "calibration_error": ece},
        "validation_summary": f"accuracy {accuracy:.2%}, calibration error {ece:.1%}",
        "epochs": epochs_run,
        "training_seconds": round(seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    return head_export.finish_card(out, card, difference, command)
