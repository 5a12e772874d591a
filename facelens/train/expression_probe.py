"""`facelens train expression --network faceapi`: a head for FER2013's classes on face-api's
expression features.

face-api's expression network (faceapi-expression.onnx, tools/convert_faceapi_expression.py)
was trained elsewhere on faces of the web; its 256 pooled features already describe
expressions. Fine-tuning all of it through torch is too slow on two CPU cores, so its
weights stay frozen and only a new head is trained: the features of every face and of its
mirror image are computed once with ONNX Runtime, then an MLP
(256 hidden units) is fitted as the small CNN of train/expression.py is (the same seeded,
stratified validation split, square-root class weights, label smoothing, early stopping on
validation accuracy, a temperature fitted there). What ships is one graph with the small
CNN's interface (N×1×48×48 grey in 0..1, FER2013's framing; N×7 probabilities in LABELS
order, temperature inside): the face scaled to 112 px and normalised as face-api does, its
network, the new head.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn
from torch.nn import functional as F

from facelens.attributes.crops import view_batch
from facelens.attributes.expression import LABELS, LUMA
from facelens.attributes.expression_net import FRAME_48
from facelens.errors import ErrorCode, FaceLensError
from facelens.eval.cache import detection_key
from facelens.eval.face_sample import face_points, fer_canvas
from facelens.io import load_image
from facelens.models.onnx_model import weight_path
from facelens.models.torch_onnx import OnnxTorch
from facelens.train.early_stopping import fit_early_stopping
from facelens.train.expression import (
    SEED,
    class_weights,
    fit_temperature,
    require_enough,
    stratified_split,
)

BASE_FILE = "faceapi-expression.onnx"
CACHE_DIR = Path(__file__).resolve().parents[2] / "artifacts" / "expression-cache"
CACHE_FROM = 1000  # faces: smaller folders are not cached
SIZE = 112  # face-api's input
MEANS = (122.782, 117.001, 104.298)  # face-api's channel means (RGB)
HIDDEN = 256
LEARNING_RATE = 1e-3
BATCH = 256
MAX_EPOCHS = 300
PATIENCE = 15


class FaceApiInput(nn.Module):
    """N×1×48×48 grey in 0..1 → face-api's N×3×112×112 input."""

    def __init__(self) -> None:
        super().__init__()
        means = torch.tensor(MEANS, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.register_buffer("means", means, persistent=False)

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        scaled = F.interpolate(grey, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        return (scaled * 255.0 - self.means) / 255.0  # grey fills the three channels


class Head(nn.Module):
    def __init__(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        self.layers = nn.Sequential(
            nn.Linear(256, HIDDEN), nn.GELU(), nn.Dropout(0.3), nn.Linear(HIDDEN, len(LABELS))
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers((features - self.mean) / self.scale)


class ProbeNet(nn.Module):
    """What ships: grey faces → softmax(head(face-api's features) / temperature)."""

    def __init__(self, head: Head, temperature: float) -> None:
        super().__init__()
        self.prepare, self.base = FaceApiInput(), OnnxTorch(weight_path(BASE_FILE))
        self.head, self.temperature = head, temperature

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        _, captured = self.base.run([self.prepare(grey)], capture=["features"])
        return torch.softmax(self.head(captured["features"]) / self.temperature, dim=1)


def runtime_crops(folder: Path, labels: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 grey faces of a FER-style folder cut as the runtime cuts them
    (attributes.expression_net: facelens's detector and landmarks on the frame, upscaled as
    `facelens eval attributes` does, then the 48 px FER framing), in load_folder's order.
    Cached under artifacts/expression-cache/ (detecting FER2013's 28,709 faces takes minutes)."""
    files = [p for label in LABELS for p in sorted((folder / label).glob("*.jpg"))]
    if len(files) != len(labels):
        raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"{folder}: unreadable images among its files")
    key = hashlib.sha256(detection_key().encode() + str(folder.resolve()).encode())
    for path in files:  # a file replaced under the same name changes its size or time
        stat = path.stat()
        key.update(f"{path.parent.name}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    cached = CACHE_DIR / f"{key.hexdigest()[:16]}.npy"
    if cached.is_file():
        return np.load(cached)
    points, _ = face_points(files, fer_canvas)
    crops = np.stack(
        [
            view_batch(fer_canvas(load_image(path)), at[None], (FRAME_48,), flip=False)[0]
            for path, at in zip(files, points, strict=True)
        ]
    )
    grey = np.clip(np.rint(crops.astype(np.float32) @ LUMA), 0, 255).astype(np.uint8)
    if len(files) >= CACHE_FROM:  # a small folder (a test's) is cut again in seconds
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.save(cached, grey)
    return grey


def features(images: np.ndarray, batch: int = 64) -> np.ndarray:
    """(N, 2, 256) face-api features of (N, 48, 48) uint8 grey faces, plain and mirrored."""
    session = ort.InferenceSession(str(weight_path(BASE_FILE)), providers=["CPUExecutionProvider"])
    prepare = FaceApiInput()
    out = []
    for view in (images, images[:, :, ::-1]):
        rows = []
        for start in range(0, len(view), batch):
            grey = torch.as_tensor(view[start : start + batch].copy(), dtype=torch.float32)
            with torch.no_grad():
                prepared = prepare(grey[:, None] / 255.0).numpy()
            rows.append(session.run(["features"], {"input": prepared})[0])
        out.append(np.concatenate(rows))
    return np.stack(out, axis=1)


@dataclass
class TrainedProbe:
    net: ProbeNet
    validation_accuracy: float
    epochs: int
    seconds: float  # features and fitting


def _logits(head: Head, views: torch.Tensor) -> torch.Tensor:
    """Mean logits over the plain and mirrored views (N, 2, 256)."""
    head.eval()
    with torch.no_grad():
        return (head(views[:, 0]) + head(views[:, 1])) / 2


def train_probe(
    images: np.ndarray, labels: np.ndarray, log: Callable[[str], None] = print, source: str = ""
) -> TrainedProbe:
    """Features once, then the head; the best epoch's weights win."""
    require_enough(labels, source or "the expression data")
    started = time.perf_counter()
    views = torch.as_tensor(features(images))
    spent = time.perf_counter() - started
    log(f"features of {len(images)} faces and their mirror images: {spent:.0f} s")
    train_rows, valid_rows = stratified_split(labels)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    x = views[train_rows].reshape(-1, views.shape[-1])  # rows (face, view), view fastest
    y = torch.as_tensor(labels[train_rows]).repeat_interleave(2)
    head = Head(x.mean(0), x.std(0) + 1e-6)
    optimiser = torch.optim.AdamW(head.parameters(), lr=LEARNING_RATE, weight_decay=1e-3)
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(labels[train_rows]), label_smoothing=0.05)

    def validation_error() -> float:
        predicted = _logits(head, views[valid_rows]).argmax(1).numpy()
        return -float(np.mean(predicted == labels[valid_rows]))  # accuracy, negated

    error, epochs = fit_early_stopping(
        head,
        optimiser,
        len(x),
        BATCH,
        lambda rows: loss_fn(head(x[rows]), y[rows]),
        validation_error,
        MAX_EPOCHS,
        PATIENCE,
        generator,
    )
    best = -error
    temperature = fit_temperature(_logits(head, views[valid_rows]), labels[valid_rows])
    log(f"head: {epochs} epochs, validation accuracy {best:.4f}, temperature {temperature:g}")
    net = ProbeNet(head.eval(), temperature).eval()
    return TrainedProbe(net, best, epochs, time.perf_counter() - started)
