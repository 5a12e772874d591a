"""`facelens train crop`: fine-tune (facelens/train/crop_network.py), export, document.

The ONNX file is face-api's graph with the fine-tuned weights; its metadata says what the
runtime needs (attributes.age_gender): `facelens.target` = age-gender and the residual
table of the 90% age interval measured on the validation split. The model card sits beside it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import onnxruntime as ort
import torch

from facelens.attributes.age_gender import CROP_TARGET, FaceApiAgeGender
from facelens.models.onnx_model import weight_path
from facelens.train import crop_network, head_export
from facelens.train.attribute_heads import default_terms, validation_figures


def export(trained: crop_network.Trained, faces: crop_network.LabelledFaces, out: Path) -> float:
    """Write the ONNX file; returns its largest |ONNX − torch| output on validation crops."""
    years, _ = crop_network.predict(trained.twin, faces, trained.valid)
    table = head_export.residual_table(years, faces.age[trained.valid])
    metadata = {
        "facelens.target": CROP_TARGET,
        "facelens.base": FaceApiAgeGender.file_name,
        "facelens.age_residual_quantiles": json.dumps(table),
    }
    crop_network.write_onnx(trained.twin, weight_path(FaceApiAgeGender.file_name), out, metadata)
    batch = crop_network.network_input(crop_network.chips(faces, trained.valid[:32], None))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    from_onnx = session.run(None, {"input": batch.numpy()})
    with torch.no_grad():
        from_torch = [t.numpy() for t in trained.twin(batch)]
    # years vary over tens: 1e-3 of a year
    return head_export.checked_difference(from_onnx, from_torch, head_export.TOLERANCE * 10)


def train_crop_network(
    data: Path,
    out: Path,
    epochs: int = 8,
    terms: str | None = None,
    command: str = "",
    checkpoint: Path | None = None,
    log: Callable[[str], None] = print,
    learning_rate: float = crop_network.LEARNING_RATE,
) -> dict:
    """Fine-tune, export and document face-api's crop network; returns its card (also written)."""
    started = time.perf_counter()
    faces = crop_network.load_faces(data)
    checkpoint = checkpoint or out.with_suffix(".checkpoint.pt")
    trained = crop_network.train(faces, checkpoint, epochs, learning_rate, log)
    difference = export(trained, faces, out)
    years, female = crop_network.predict(trained.twin, faces, trained.valid)
    gender, gender_summary = validation_figures(faces, trained.valid, "gender", female)
    age, age_summary = validation_figures(faces, trained.valid, "age", years)
    card = {
        "name": out.name,
        "target": CROP_TARGET,
        "model": f"face-api's AgeGenderNet ({FaceApiAgeGender.file_name}) fine-tuned, "
        "112 px dlib chip (padding 0.2) + mirror",
        "seed": crop_network.SEED,
        "data": {
            "folder": str(data),
            "faces": len(faces),
            "validation_faces": len(trained.valid),
            "terms": terms or default_terms(data),
        },
        "validation": gender | age,
        "validation_summary": f"{gender_summary}, {age_summary}",
        "epochs": trained.epochs,
        "schedule": f"{trained.epochs} epochs, best epoch by the validation split",
        "learning_rate": learning_rate,
        "training_seconds": round(trained.seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    return head_export.finish_card(out, card, difference, command)
