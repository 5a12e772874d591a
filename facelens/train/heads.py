"""Age and gender heads on recognition embeddings: fit, validate, export to ONNX.

A head is a logistic/linear layer or a one-hidden-layer MLP over the unit vectors an
embedder already computes (facelens.recognition), so at run time it costs microseconds.
Training uses every face's plain and mirrored vectors (the mirror is the free augmentation
of an embedding), a seeded validation split for early stopping and choices, and AdamW.

Age is fitted either as a regression on years (L1) or as a classification over ages
0..MAX_AGE with Gaussian soft labels (DLDL, Gao et al. 2017), read out as the expected age.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from facelens.attributes.embedding_head import blend
from facelens.recognition.fused import fuse
from facelens.recognition.registry import FUSION_WEIGHT, NETWORKS
from facelens.train.checks import require_split
from facelens.train.early_stopping import fit_early_stopping
from facelens.train.face_embeddings import EmbeddedFaces

SEED = 0
MAX_AGE = 100  # the classification's last bin (UTKFace's oldest, 116, count as 100)
AGE_SIGMA = 3.0  # years: the soft labels' spread
# An age class prediction is the expected value over these bins.
AGE_BINS = torch.arange(MAX_AGE + 1, dtype=torch.float32)


@dataclass(frozen=True)
class HeadConfig:
    target: str  # "gender" or "age"
    embedder: str = "fused"  # "fused", "sface" or "dlib"
    hidden: int = 256  # 0: a linear head
    age_mode: str = "classes"  # "classes" or "regression" (age only)
    dropout: float = 0.3
    weight_decay: float = 1e-3
    # 3e-3 since 2026-12-01: on the UTKFace validation split it beat 1e-3 for every shipped
    # head (the dlib age head stopped at the 300-epoch cap at 1e-3, still learning)
    learning_rate: float = 3e-3
    epochs: int = 300
    patience: int = 25
    batch: int = 256

    @property
    def outputs(self) -> int:
        if self.target == "gender" or self.age_mode == "regression":
            return 1
        return MAX_AGE + 1


def features(faces: EmbeddedFaces, embedder: str) -> np.ndarray:
    """(N, 2, D) vectors of the named embedder: [:, 0] plain, [:, 1] mirrored."""
    if embedder in NETWORKS:
        return faces.vectors[embedder]
    if embedder != "fused":
        raise ValueError(f"unknown embedder {embedder!r}")
    sface, dlib = faces.vectors["sface"], faces.vectors["dlib"]
    views = [fuse(sface[:, v], dlib[:, v], FUSION_WEIGHT) for v in range(2)]
    return np.stack(views, axis=1)


def split(count: int, share: float = 0.15, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) indices; `bad_argument` when a side would be empty."""
    order = np.random.default_rng(seed).permutation(count)
    cut = max(1, round(count * share))
    train, valid = np.sort(order[cut:]), np.sort(order[:cut])
    require_split(train, valid)
    return train, valid


class Head(nn.Module):
    """The trained layers: raw scores (N, outputs)."""

    def __init__(self, dimension: int, config: HeadConfig) -> None:
        super().__init__()
        if config.hidden:
            self.layers: nn.Module = nn.Sequential(
                nn.Linear(dimension, config.hidden),
                nn.GELU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.hidden, config.outputs),
            )
        else:
            self.layers = nn.Linear(dimension, config.outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Readout(nn.Module):
    """What ships: the head plus its read-out (probability of "female", or years)."""

    def __init__(self, head: Head, config: HeadConfig) -> None:
        super().__init__()
        self.head, self.config = head, config
        self.register_buffer("bins", AGE_BINS.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.head(x)
        if self.config.target == "gender":
            return torch.sigmoid(scores[:, 0])
        if self.config.age_mode == "regression":
            return scores[:, 0] * 10.0 + 30.0  # a scale that starts near UTKFace's ages
        return torch.softmax(scores, dim=1) @ self.bins


def _targets(faces: EmbeddedFaces, config: HeadConfig) -> torch.Tensor:
    if config.target == "gender":
        return torch.as_tensor(faces.female, dtype=torch.float32)
    return torch.as_tensor(np.minimum(faces.age, MAX_AGE), dtype=torch.float32)


def _loss(readout: Readout, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    config = readout.config
    scores = readout.head(x)
    if config.target == "gender":
        return nn.functional.binary_cross_entropy_with_logits(scores[:, 0], y)
    if config.age_mode == "regression":
        return nn.functional.l1_loss(scores[:, 0] * 10.0 + 30.0, y) / 10.0
    soft = torch.exp(-0.5 * ((AGE_BINS[None] - y[:, None]) / AGE_SIGMA) ** 2)
    soft = soft / soft.sum(dim=1, keepdim=True)
    return -(soft * torch.log_softmax(scores, dim=1)).sum(dim=1).mean()


def error(config: HeadConfig, predicted: np.ndarray, truth: np.ndarray) -> float:
    """The validation figure early stopping watches: gender error rate, or age MAE."""
    if config.target == "gender":
        return float(np.mean((predicted >= 0.5) != truth))
    return float(np.mean(np.abs(predicted - truth)))


CROP_WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)


def crop_weight(config: HeadConfig, head: np.ndarray, crop: np.ndarray, truth: np.ndarray) -> float:
    """The weight of face-api's outputs in the blend (embedding_head.blend) that errs least
    on the validation faces; ties go to the smaller weight."""
    errors = [error(config, blend(config.target, head, crop, w), truth) for w in CROP_WEIGHTS]
    return float(CROP_WEIGHTS[int(np.argmin(errors))])


def predict(readout: Readout, vectors: np.ndarray) -> np.ndarray:
    readout.eval()
    with torch.no_grad():
        return readout(torch.as_tensor(vectors, dtype=torch.float32)).numpy()


@dataclass
class Fitted:
    readout: Readout
    validation_error: float  # error() on the validation split's plain vectors
    epochs: int  # epochs run (the best one's weights are kept)


def fit(
    faces: EmbeddedFaces,
    config: HeadConfig,
    train: np.ndarray,
    valid: np.ndarray,
    seed: int = SEED,
) -> Fitted:
    """Train on `train` faces (both views), early-stopped on `valid` faces (plain view);
    `seed` sets the initial weights and the batch order."""
    threads = torch.get_num_threads()
    # One thread: layers this small gain nothing from a pool, and on a busy 2-core machine
    # two spinning threads ran 6× slower (58 s against 10 s for one synthetic fit).
    torch.set_num_threads(1)
    try:
        return _fit(faces, config, train, valid, seed)
    finally:
        torch.set_num_threads(threads)


def _fit(
    faces: EmbeddedFaces, config: HeadConfig, train: np.ndarray, valid: np.ndarray, seed: int
) -> Fitted:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    vectors = features(faces, config.embedder)
    y = _targets(faces, config)
    x_train = torch.as_tensor(vectors[train].reshape(-1, vectors.shape[-1]))
    y_train = y[train].repeat_interleave(2)  # rows are (face, view), view fastest
    readout = Readout(Head(vectors.shape[-1], config), config)
    optimiser = torch.optim.AdamW(
        readout.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    truth = faces.age[valid] if config.target == "age" else faces.female[valid]
    best, epochs = fit_early_stopping(
        readout,
        optimiser,
        len(x_train),
        config.batch,
        lambda rows: _loss(readout, x_train[rows], y_train[rows]),
        lambda: error(config, predict(readout, vectors[valid, 0]), truth),
        config.epochs,
        config.patience,
        generator,
        tolerance=1e-6,
    )
    readout.eval()
    return Fitted(readout, float(best), epochs)
