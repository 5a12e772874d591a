"""`facelens train decoder`: gather the data, train, export the ONNX decoder, write its card.

The ONNX file (N×D embeddings in, N×S×S×3 RGB 0..1 out) carries in its metadata what the
runtime (facelens.explain.reconstruct) needs: the embedder it reads (a mismatch is refused),
the crop template, a canonical face mesh in crop pixels (so any embedder can re-embed a
reconstruction as a face) and the embedding's top principal directions (the region map).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from facelens.detection.align import estimate_transform
from facelens.eval.face_sample import central_faces
from facelens.recognition.base import normalise
from facelens.recognition.registry import get_embedder, get_network
from facelens.recognition.sface import ARCFACE_112
from facelens.train import decoder, decoder_data, head_export
from facelens.train.decoder_model import FaceDecoder

DIRECTIONS = 8
MESH_FACES = 200
TERMS = (
    "LFW (research), UTKFace (non-commercial research), CFP (research): a decoder trained on "
    "them inherits those terms"
)


def training_images(data_root: Path) -> list[tuple[Path, str]]:
    """LFW folds 1-9 (fold 10 stays for evaluation), utkface-train and CFP's frontal images."""
    images = decoder_data.lfw_images(data_root / "lfw", range(9))
    images += decoder_data.cfp_frontal_images(data_root / "cfp-dev")
    return images + decoder_data.folder_images(data_root / "utkface-train")


def identity_targets(faces: decoder_data.FaceSet, embedder_name: str) -> np.ndarray:
    """SFace unit vectors of each crop and its mirror image: the slice of the embedding where
    the embedding holds SFace's (fused, sface), else SFace run on the crops (its own chips)."""
    if embedder_name in ("fused", "sface"):
        return normalise(faces.embeddings[:, :, :128].reshape(-1, 128)).reshape(-1, 2, 128)
    plain, mirrored = get_network("sface").raw(faces.crops, flip=True)
    assert mirrored is not None
    return np.stack([normalise(plain), normalise(mirrored)], axis=1)


def crop_mesh(images: list[tuple[Path, str]]) -> np.ndarray:
    """The mean face mesh (468×3) of a spread of training faces, in 112-px crop pixels."""
    picked = [images[i][0] for i in np.linspace(0, len(images) - 1, MESH_FACES).astype(int)]
    faces, detected = central_faces(picked)
    meshes = []
    for face in (f for f, hit in zip(faces, detected, strict=True) if hit):
        matrix = estimate_transform(face.points[0], ARCFACE_112)
        xy = face.mesh[0, :, :2] @ matrix[:, :2].T + matrix[:, 2]
        scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
        meshes.append(np.column_stack([xy, face.mesh[0, :, 2] * scale]))
    return np.mean(meshes, axis=0)


def principal_directions(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top DIRECTIONS principal directions (k×D unit rows) and their standard deviations."""
    centred = embeddings - embeddings.mean(axis=0)
    _, singular, rows = np.linalg.svd(centred, full_matrices=False)
    return rows[:DIRECTIONS], singular[:DIRECTIONS] / np.sqrt(len(embeddings) - 1)


def export(net: FaceDecoder, out: Path, check: np.ndarray, metadata: dict[str, str]) -> float:
    """Write the ONNX file; returns its largest |ONNX − torch| pixel difference on `check`."""
    example = torch.zeros(2, net.dimension)
    session = head_export.export_onnx(_ChannelsLast(net), example, out, "face", metadata)
    from_onnx = session.run(None, {"embedding": check.astype(np.float32)})[0]
    with torch.no_grad():
        from_torch = net(torch.as_tensor(check)).permute(0, 2, 3, 1).numpy()
    difference = float(np.max(np.abs(from_onnx - from_torch)))
    if difference > head_export.TOLERANCE:
        raise RuntimeError(f"ONNX export differs from torch by {difference:g}")
    return difference


class _ChannelsLast(torch.nn.Module):
    """What ships: N×S×S×3 (image layout) rather than N×3×S×S."""

    def __init__(self, net: FaceDecoder) -> None:
        super().__init__()
        self.net = net

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.net(embedding).permute(0, 2, 3, 1)


def train_decoder(
    data_root: Path,
    out: Path,
    config: decoder.DecoderConfig,
    embedder_name: str = "fused",
    cache_dir: Path | None = None,
    command: str = "",
    checkpoint: Path | None = None,
    log=print,
) -> dict:
    """Train, export and document a decoder; returns its card (also written beside `out`)."""
    started = time.perf_counter()
    embedder = get_embedder(embedder_name)
    images = training_images(data_root.resolve())  # cache keys hold resolved paths
    faces = decoder_data.embed_images(
        images, embedder, cache_dir, lambda done, total: log(f"embedded {done}/{total}")
    )
    data = decoder.DecoderData(
        decoder.resize_crops(faces.crops, config.size),
        faces.embeddings,
        identity_targets(faces, embedder_name),
    )
    checkpoint = checkpoint or out.with_suffix(".checkpoint.pt")
    net, state = decoder.train(data, config, checkpoint, log)
    directions, scales = principal_directions(faces.embeddings[:, 0])
    metadata = {
        "facelens.target": "reconstruction",
        "facelens.embedder": embedder.name,
        "facelens.embedder_version": embedder.version,
        "facelens.dimension": str(embedder.dimension),
        "facelens.size": str(config.size),
        "facelens.template": json.dumps((ARCFACE_112.points / 112).round(5).tolist()),
        "facelens.crop_mesh": json.dumps(crop_mesh(images).round(2).tolist()),
        "facelens.directions": json.dumps(directions.round(5).tolist()),
        "facelens.direction_scales": json.dumps(scales.round(5).tolist()),
    }
    _, valid = decoder.split(len(data.crops), config.validation_faces)
    difference = export(net, out, faces.embeddings[valid[:64], 0], metadata)
    steps, l1, cosine = state["history"][-1]
    card = {
        "name": out.name,
        "target": "reconstruction",
        "embedder": embedder.name,
        "model": (
            f"decoder: linear to 4×4×{config.width}, {int(np.log2(config.size // 4))} upsampling "
            f"blocks to {config.size}×{config.size} RGB on the ArcFace template; L1 + "
            f"w×(1 − SFace cosine) on {config.identity_batch} of each {config.batch} after "
            f"{config.pixel_steps} pixel-only steps, w = {config.identity_weight:g} until step "
            f"{config.relax_step}, then {config.relaxed_weight:g}"
        ),
        "seed": decoder.SEED,
        "data": {
            "folder": str(data_root),
            "sources": "lfw folds 1-9, cfp-dev frontal, utkface-train (each also mirrored)",
            "faces": len(faces) - config.validation_faces,
            "validation_faces": config.validation_faces,
            "undetected": int((~faces.detected).sum()),
            "terms": TERMS,
        },
        "validation": {"l1": l1, "identity_cosine": cosine, "history": state["history"]},
        "validation_summary": f"L1 {l1:.4f}, SFace cosine to the source crop {cosine:.3f}",
        "epochs": steps,
        "schedule": f"{steps} steps of {config.batch} faces, {torch.get_num_threads()} CPU "
        "thread(s)",
        "training_seconds": round(state["seconds"], 1),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    return head_export.finish_card(out, card, difference, command)
