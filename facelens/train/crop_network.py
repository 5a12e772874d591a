"""`facelens train crop`: fine-tune face-api's AgeGenderNet (age and gender from one crop).

The shipped network (faceapi-age-gender.onnx) is run by its torch twin
(models.torch_onnx.OnnxTorch, trainable=True: every float weight a parameter), and trained on the
labelled faces of a UTKFace-style folder, cut exactly as at run time (facelens's own
detector and landmarks, dlib chip 112 px, padding 0.2): rotation ±15°, zoom ±10%, shifts
of ±6 px, mirror and brightness/contrast ±20% on every batch; cross-entropy on gender plus
a quarter of the age error in decades; Adam with a cosine schedule; a seeded 15%
validation split picks the best epoch (gender accuracy minus age MAE/100); a checkpoint
after every epoch (a rerun of the same run resumes: train.checks). The result is the same
ONNX graph with the new weights, so the runtime runs it as it runs face-api's
(attributes.age_gender).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from facelens.attributes.age_gender import FaceApiAgeGender, preprocess
from facelens.attributes.crops import similarity
from facelens.detection.detector import DEFAULT_DETECTOR
from facelens.eval.attributes import utkface_labels
from facelens.eval.face_sample import central_faces
from facelens.io import load_image
from facelens.models.onnx_model import weight_path
from facelens.models.torch_onnx import OnnxTorch
from facelens.train.checks import fingerprint, load_checkpoint, save_checkpoint
from facelens.train.face_embeddings import require_detections, utkface_files
from facelens.train.heads import split

SEED = 0
LEARNING_RATE = 1e-4  # Adam's, at the start of the cosine schedule
BATCH = 64
AGE_WEIGHT = 0.25  # gender cross-entropy + AGE_WEIGHT · |years − truth| / 10
TEMPLATE = FaceApiAgeGender.templates[0]


@dataclass
class LabelledFaces:
    images: list[np.ndarray]  # RGB photos
    points: np.ndarray  # (N, 5, 2) landmarks of each photo's labelled face
    age: np.ndarray
    female: np.ndarray
    race: np.ndarray
    folder: str = ""  # where the faces came from, for the checkpoint's run description
    files: list[str] = field(default_factory=list)  # their file names, in row order

    def __len__(self) -> int:
        return len(self.images)


def load_faces(folder: Path, detector: str = DEFAULT_DETECTOR) -> LabelledFaces:
    """Every labelled image of a UTKFace-style folder with its face's landmarks (a missed
    face takes the folder's mean layout, as in eval.face_sample). Names are checked before
    any detection; a folder where no face is found is `no_face`."""
    files = utkface_files(folder)
    age, female, race = utkface_labels(files)
    faces, detected = central_faces(files, kind=detector)
    require_detections(detected, folder)
    return LabelledFaces(
        [load_image(path) for path in files],
        np.stack([face.points[0] for face in faces]).astype(np.float32),
        age,
        female,
        race,
        str(Path(folder).resolve()),
        [path.name for path in files],
    )


def run_description(faces: LabelledFaces, epochs: int, learning_rate: float) -> dict:
    """What a checkpoint must match to be resumed: the data and the options of the run."""
    return {
        "model": "faceapi-age-gender fine-tune",
        "data": faces.folder,
        "faces": len(faces),
        "fingerprint": fingerprint(*faces.files, faces.age, faces.female),
        "epochs": epochs,
        "learning_rate": learning_rate,
        "batch": BATCH,
        "seed": SEED,
    }


def write_onnx(twin: OnnxTorch, source: str | Path, out: Path, metadata: dict[str, str]) -> None:
    """`source`'s graph with the twin's current weights and `metadata`, written to `out`."""
    model = onnx.load(str(source))
    for initializer in model.graph.initializer:
        value = twin.initializer(initializer.name)
        if isinstance(value, nn.Parameter):
            array = value.detach().numpy()
            initializer.CopyFrom(numpy_helper.from_array(array, initializer.name))
    onnx.helper.set_model_props(model, metadata)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))


def chips(faces: LabelledFaces, rows: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """(len(rows), 112, 112, 3) uint8 run-time crops; randomly moved and lit when `rng`."""
    size = TEMPLATE.size
    out = np.empty((len(rows), size, size, 3), np.uint8)
    centre = ((size - 1) / 2, (size - 1) / 2)
    for slot, row in enumerate(rows):
        matrix = similarity(faces.points[row], TEMPLATE)
        if rng is not None:
            move = cv2.getRotationMatrix2D(centre, rng.uniform(-15, 15), rng.uniform(0.9, 1.1))
            move[:, 2] += rng.uniform(-6, 6, 2)
            matrix = move @ np.vstack([matrix, [0.0, 0.0, 1.0]])
        chip = cv2.warpAffine(
            faces.images[row], matrix, (size, size), borderMode=cv2.BORDER_REFLECT
        )
        if rng is not None:
            if rng.random() < 0.5:
                chip = chip[:, ::-1]
            lit = chip.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20)
            chip = np.clip(lit, 0, 255).astype(np.uint8)
        out[slot] = chip
    return out


def network_input(crops: np.ndarray) -> torch.Tensor:
    """The network's input, normalised as at run time (attributes.age_gender.preprocess)."""
    return torch.from_numpy(np.ascontiguousarray(preprocess(crops)))


@torch.no_grad()
def predict(twin: OnnxTorch, faces: LabelledFaces, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """(years, probability of "female") of `rows`, plain and mirrored views averaged."""
    twin.eval()
    years, female = [], []
    for start in range(0, len(rows), 128):
        crops = chips(faces, rows[start : start + 128], None)
        age, gender = twin(torch.cat([network_input(crops), network_input(crops[:, :, ::-1])]))
        n = len(crops)
        years.append(((age[:n, 0] + age[n:, 0]) / 2).numpy())
        female.append(((gender[:n, 1] + gender[n:, 1]) / 2).numpy())
    return np.concatenate(years), np.concatenate(female)


def validation_score(twin: OnnxTorch, faces: LabelledFaces, valid: np.ndarray) -> float:
    years, female = predict(twin, faces, valid)
    accuracy = float(np.mean((female >= 0.5) == faces.female[valid]))
    return accuracy - float(np.mean(np.abs(years - faces.age[valid]))) / 100


@dataclass
class Trained:
    twin: OnnxTorch
    valid: np.ndarray
    epochs: int
    seconds: float


def train(
    faces: LabelledFaces,
    checkpoint: Path,
    epochs: int = 8,
    learning_rate: float = LEARNING_RATE,
    log: Callable[[str], None] = print,
) -> Trained:
    """Fine-tune from face-api's weights (resuming from `checkpoint` when it exists)."""
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    rows, valid = split(len(faces))
    twin = OnnxTorch(weight_path(FaceApiAgeGender.file_name), trainable=True)
    optimiser = torch.optim.Adam(twin.parameters(), lr=learning_rate)
    steps = epochs * math.ceil(len(rows) / BATCH)
    run = run_description(faces, epochs, learning_rate)
    saved = load_checkpoint(checkpoint, run)
    if saved is not None:
        twin.load_state_dict(saved["twin"])
        optimiser.load_state_dict(saved["optimiser"])
        rng.bit_generator.state = saved["rng"]
        state = saved["state"]
    else:  # face-api's own weights are the epoch to beat
        state = {"epoch": 0, "best": validation_score(twin, faces, valid), "seconds": 0.0}
        state["best_weights"] = {k: v.clone() for k, v in twin.state_dict().items()}
        log(f"face-api before fine-tuning: validation score {state['best']:.4f}")
    while state["epoch"] < epochs:
        started = time.perf_counter()
        twin.train()
        order = rng.permutation(rows)
        for start in range(0, len(order), BATCH):
            step = state["epoch"] * math.ceil(len(rows) / BATCH) + start // BATCH
            for group in optimiser.param_groups:
                group["lr"] = learning_rate * 0.5 * (1 + math.cos(math.pi * step / steps))
            batch = order[start : start + BATCH]
            age, gender = twin(network_input(chips(faces, batch, rng)))
            female = torch.as_tensor(faces.female[batch], dtype=torch.int64)[:, None]
            years = torch.as_tensor(faces.age[batch], dtype=torch.float32)
            loss = -torch.log(gender.gather(1, female) + 1e-7).mean()
            loss = loss + AGE_WEIGHT * (age[:, 0] - years).abs().mean() / 10
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        score = validation_score(twin, faces, valid)
        state["epoch"] += 1
        state["seconds"] += time.perf_counter() - started
        if score > state["best"]:
            state.update(
                best=score, best_weights={k: v.clone() for k, v in twin.state_dict().items()}
            )
        log(f"epoch {state['epoch']}: validation score {score:.4f} ({state['seconds']:.0f} s)")
        saving = {"twin": twin.state_dict(), "optimiser": optimiser.state_dict()}
        save_checkpoint(checkpoint, run, {**saving, "rng": rng.bit_generator.state, "state": state})
    twin.load_state_dict(state["best_weights"])
    return Trained(twin.eval(), valid, state["epoch"], state["seconds"])
