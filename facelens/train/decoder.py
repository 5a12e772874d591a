"""Train the face decoder (facelens/train/decoder_model.py) on crops and their embeddings.

Losses: L1 between the reconstruction and the aligned crop, and an identity loss,
1 − cos(SFace(reconstruction), SFace(crop)), through SFace's torch twin on the
reconstruction upsampled into SFace's 112×112 crop. The identity loss costs about 15× a
pixel step per face on the CPU, so it runs on a sub-batch of each batch, after a pixel-only
warm-up; its weight drops from `identity_weight` to `relaxed_weight` at `relax_step`
(measured: at weight 0.5 the decoder found colour blobs SFace reads as the right person,
rank-1 45% on LFW fold 10 but no longer face-like; the lower weight lets the pixel loss
pull the reconstructions back towards faces). Every image counts twice: as it is and
mirrored (the mirrored crop with the mirrored face's embedding). A seeded set of images is
held out for validation; a checkpoint is written every `CHECKPOINT_EVERY` steps (a rerun
resumes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from facelens.recognition.sface import SFaceEmbedder
from facelens.train.checks import fingerprint, load_checkpoint, save_checkpoint
from facelens.train.decoder_model import FaceDecoder

SEED = 0
CHECKPOINT_EVERY = 50


@dataclass
class DecoderData:
    """Training rows: crops (N, S, S, 3) uint8, embeddings (N, 2, D) (plain, mirrored) and
    SFace targets (N, 2, 128) unit vectors of the crop and of its mirror image."""

    crops: np.ndarray
    embeddings: np.ndarray
    identity: np.ndarray


@dataclass
class DecoderConfig:
    size: int = 64
    width: int = 256
    steps: int = 2000
    pixel_steps: int = 600
    batch: int = 48
    identity_batch: int = 12
    identity_weight: float = 0.5
    relax_step: int = 1000
    relaxed_weight: float = 0.1
    learning_rate: float = 2e-3
    validation_faces: int = 128


def resize_crops(crops: np.ndarray, size: int) -> np.ndarray:
    if crops.shape[1] == size:
        return crops
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])


def to_images(crops: np.ndarray) -> torch.Tensor:
    """N×S×S×3 uint8 → N×3×S×S float 0..1."""
    return torch.as_tensor(crops).permute(0, 3, 1, 2).float() / 255.0


def sface_input(images: torch.Tensor) -> torch.Tensor:
    """Reconstructions (0..1, on the ArcFace template at any size) → SFace's 112 px input."""
    return F.interpolate(images, size=112, mode="bilinear", align_corners=False) * 255.0


def split(count: int, held_out: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(SEED).permutation(count)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def identity_cosine(twin: torch.nn.Module, images: torch.Tensor, target: torch.Tensor):
    embedded = twin(sface_input(images))
    embedded = embedded[0] if isinstance(embedded, list | tuple) else embedded
    return F.cosine_similarity(embedded, target, dim=1)


def _batch(data: DecoderData, rows: np.ndarray, mirror: np.ndarray, size: int):
    crops = resize_crops(data.crops[rows], size)
    crops = np.where(mirror[:, None, None, None], crops[:, :, ::-1], crops)
    return (
        torch.as_tensor(data.embeddings[rows, mirror.astype(int)]),
        to_images(crops),
        torch.as_tensor(data.identity[rows, mirror.astype(int)]),
    )


def validate(net: FaceDecoder, twin, data: DecoderData, rows: np.ndarray) -> tuple[float, float]:
    """(mean L1, mean identity cosine) on the held-out rows, unmirrored."""
    net.eval()
    with torch.no_grad():
        embeddings, images, identity = _batch(data, rows, np.zeros(len(rows), bool), net.size)
        out = torch.cat([net(e) for e in embeddings.split(64)])
        l1 = float((out - images).abs().mean())
        cosine = float(identity_cosine(twin, out, identity).mean())
    net.train()
    return l1, cosine


def train(
    data: DecoderData,
    config: DecoderConfig,
    checkpoint: Path,
    log: Callable[[str], None] = print,
) -> tuple[FaceDecoder, dict]:
    """Train (resuming from `checkpoint` when it exists); returns the net and its history."""
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    train_rows, valid_rows = split(len(data.crops), config.validation_faces)
    net = FaceDecoder(data.embeddings.shape[2], config.size, config.width)
    twin = SFaceEmbedder.torch_twin().eval()
    for parameter in twin.parameters():
        parameter.requires_grad_(False)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate, betas=(0.5, 0.999))
    state: dict = {"step": 0, "seconds": 0.0, "history": []}
    run = run_description(data, config)
    saved = load_checkpoint(checkpoint, run)
    if saved is not None:
        net.load_state_dict(saved["net"])
        optimiser.load_state_dict(saved["optimiser"])
        rng.bit_generator.state = saved["rng"]
        state = saved["state"]
    net.train()
    started = time.perf_counter() - state["seconds"]
    while state["step"] < config.steps:
        step = state["step"]
        # cosine decay over all steps, to 5% of the base rate
        fraction = step / config.steps
        rate = config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * fraction)))
        for group in optimiser.param_groups:
            group["lr"] = rate
        rows = rng.choice(train_rows, config.batch, replace=False)
        mirror = rng.random(config.batch) < 0.5
        embeddings, images, identity = _batch(data, rows, mirror, config.size)
        out = net(embeddings)
        loss = (out - images).abs().mean()
        if step >= config.pixel_steps and config.identity_batch:
            cosine = identity_cosine(
                twin, out[: config.identity_batch], identity[: config.identity_batch]
            )
            weight = config.identity_weight if step < config.relax_step else config.relaxed_weight
            loss = loss + weight * (1 - cosine).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        state["step"] += 1
        if state["step"] % CHECKPOINT_EVERY == 0 or state["step"] == config.steps:
            state["seconds"] = time.perf_counter() - started
            l1, cosine = validate(net, twin, data, valid_rows)
            state["history"].append([state["step"], round(l1, 4), round(cosine, 4)])
            log(
                f"step {state['step']}/{config.steps}: validation L1 {l1:.4f}, identity "
                f"cosine {cosine:.3f} ({state['seconds']:.0f} s)"
            )
            saving = {"net": net.state_dict(), "optimiser": optimiser.state_dict()}
            save_checkpoint(
                checkpoint, run, {**saving, "rng": rng.bit_generator.state, "state": state}
            )
    return net.eval(), state


def run_description(data: DecoderData, config: DecoderConfig) -> dict:
    """What a checkpoint must match to be resumed: the training rows and every option but
    `steps`, which may grow (a rerun with more steps trains the same run on)."""
    options = {key: value for key, value in asdict(config).items() if key != "steps"}
    return {
        "model": "face decoder",
        "faces": len(data.crops),
        "fingerprint": fingerprint(data.crops, data.embeddings),
        "options": options,
        "seed": SEED,
    }
