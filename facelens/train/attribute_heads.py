"""`facelens train age|gender`: a head on a recognition embedding, end to end.

Embed a UTKFace-style folder (AGE_GENDER_RACE_*.jpg; cached), hold out a seeded 15%
validation split, fit with early stopping on it (facelens/train/heads.py), choose on it
how much of a crop network (face-api's fine-tune by default) to blend in (0: none), export
to ONNX checked against torch and write the model card beside it
(facelens/train/head_export.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facelens.attributes.choice import FINE_TUNED_CROP
from facelens.attributes.embedding_head import blend
from facelens.detection.detector import DEFAULT_DETECTOR
from facelens.eval.attributes import RACES
from facelens.train import head_export, heads
from facelens.train.face_embeddings import CACHE_DIR, EmbeddedFaces, embed_folder

UTKFACE_TERMS = (
    "UTKFace (Zhang, Song and Qi, CVPR 2017): available for non-commercial research "
    "purposes only (https://susanqq.github.io/UTKFace/); a model trained on it inherits "
    "that restriction"
)
UNKNOWN_TERMS = "not recorded: the terms of the training data apply (pass --terms)"


def default_terms(folder: Path) -> str:
    return UTKFACE_TERMS if "utkface" in str(folder).lower() else UNKNOWN_TERMS


def validation_figures(faces: EmbeddedFaces, valid: np.ndarray, target: str, out: np.ndarray):
    """The card's validation numbers (the same breakdowns as `facelens eval attributes`)."""
    age, race = faces.age[valid], faces.race[valid]
    children = age <= 12
    if target == "gender":
        right = (out >= 0.5) == faces.female[valid]
        figures = {
            "gender_accuracy": float(right.mean()),
            "gender_accuracy_by_race": {
                name: float(right[race == code].mean())
                for code, name in enumerate(RACES)
                if (race == code).any()
            },
            "gender_accuracy_0_12": float(right[children].mean()) if children.any() else None,
        }
        summary = f"gender accuracy {figures['gender_accuracy']:.2%}"
        return figures, summary
    error = np.abs(out - age)
    figures = {
        "age_mae": float(error.mean()),
        "age_mae_0_12": float(error[children].mean()) if children.any() else None,
    }
    return figures, f"age MAE {figures['age_mae']:.2f} years"


def train_head(
    target: str,
    data: Path,
    out: Path,
    config: heads.HeadConfig,
    detector: str = DEFAULT_DETECTOR,
    terms: str | None = None,
    command: str = "",
    cache: bool = True,
    with_crop_network: bool = True,
    progress: Callable[[int, int], None] | None = None,
    crop_network: str = FINE_TUNED_CROP,
) -> dict:
    """Train, export and document one head; returns its model card (also written).
    with_crop_network: let the validation split choose a blend with `crop_network` (a name
    of attributes.embedding_head.CROP_NETWORKS). The fine-tune's validation split is this
    one (same seed), so on UTKFace's training folder its outputs there are held out too."""
    started = time.perf_counter()
    faces = embed_folder(data, detector, CACHE_DIR if cache else None, progress)
    embedded = time.perf_counter()
    train, valid = heads.split(len(faces))
    fitted = heads.fit(faces, config, train, valid)
    vectors = heads.features(faces, config.embedder)
    alone = heads.predict(fitted.readout, vectors[valid, 0])
    crop = (faces.crop_years if target == "age" else faces.crop_female)[crop_network][valid]
    truth = faces.age[valid] if target == "age" else faces.female[valid]
    weight = heads.crop_weight(config, alone, crop, truth) if with_crop_network else 0.0
    predicted = blend(target, alone, crop, weight)
    metadata = {
        "facelens.target": target,
        "facelens.embedder": config.embedder,
        "facelens.faceapi_weight": f"{weight:g}",
        "facelens.crop_network": crop_network,
    }
    if target == "age":
        table = head_export.residual_table(predicted, faces.age[valid])
        metadata["facelens.age_residual_quantiles"] = json.dumps(table)
    difference = head_export.export(fitted.readout, config, out, vectors[valid, 0], metadata)
    figures, summary = validation_figures(faces, valid, target, predicted)
    summary += f" ({crop_network} weight {weight:g})" if weight else ""
    card = {
        "name": out.name,
        "target": target,
        "embedder": config.embedder,
        "model": (
            f"{'MLP, ' + str(config.hidden) + ' hidden units' if config.hidden else 'linear'}"
            + (f", age as {config.age_mode}" if target == "age" else "")
            + (f", blended with {crop_network} (weight {weight:g})" if weight else "")
        ),
        "config": config.__dict__,
        "seed": heads.SEED,
        "data": {
            "folder": str(data),
            "faces": len(faces),
            "detected": int(faces.detected.sum()),
            "validation_faces": len(valid),
            "detector": detector,
            "terms": terms or default_terms(data),
        },
        "faceapi_weight": weight,
        "crop_network": crop_network,
        "validation": figures,
        "validation_summary": summary,
        "validation_head_alone": validation_figures(faces, valid, target, alone)[0],
        "validation_crop_network_alone": validation_figures(faces, valid, target, crop)[0],
        "epochs": fitted.epochs,
        "embedding_seconds": round(embedded - started, 1),
        "training_seconds": round(time.perf_counter() - embedded, 1),
    }
    return head_export.finish_card(out, card, difference, command)
