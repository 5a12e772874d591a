"""The shipped face decoder (facelens/weights/face-decoder.onnx): an embedding in, an aligned
face crop out (trained by `facelens train decoder`, see its model card).

A decoder reads one embedder's vectors: its ONNX metadata names the embedder and its
dimension, and decoding another embedder's vectors is refused (retrain the decoder for it).
The metadata also holds the crop's five-point template, a canonical face mesh in crop pixels
(so any embedder can re-embed a reconstruction as a face) and the training embeddings' top
principal directions (facelens.explain.reconstruct's region map).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from facelens.errors import ErrorCode, FaceLensError
from facelens.models.onnx_model import OnnxModel
from facelens.recognition.base import Embedder

DECODER_FILE = "face-decoder.onnx"
EMBED_SIZE = 112  # reconstructions are re-embedded at the 112-px template they were cut on


class FaceDecoderModel(OnnxModel):
    """N×D unit embeddings → N×S×S×3 RGB uint8 crops on the ArcFace template."""

    file_name = DECODER_FILE

    def __init__(self, file_name: str | Path | None = None) -> None:
        super().__init__(file_name)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("facelens.target") != "reconstruction":
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT, f"{file_name or self.file_name} is not a face decoder"
            )
        self.embedder = meta["facelens.embedder"]
        self.embedder_version = meta["facelens.embedder_version"]
        self.dimension = int(meta["facelens.dimension"])
        self.size = int(meta["facelens.size"])
        self.template = np.array(json.loads(meta["facelens.template"]), np.float32)  # 0..1
        self.crop_mesh = np.array(json.loads(meta["facelens.crop_mesh"]), np.float32)  # 112 px
        self.directions = np.array(json.loads(meta["facelens.directions"]), np.float32)
        self.direction_scales = np.array(json.loads(meta["facelens.direction_scales"]), np.float32)

    def check(self, embedder: Embedder) -> None:
        """Refuse an embedder whose vectors this decoder was not trained on."""
        if embedder.name != self.embedder or embedder.dimension != self.dimension:
            raise FaceLensError(
                ErrorCode.EMBEDDER_MISMATCH,
                f"this decoder reads {self.embedder} embeddings ({self.dimension}-d), not "
                f"{embedder.name} ({embedder.dimension}-d); train one for it with "
                f"`facelens train decoder --embedder {embedder.name}`",
            )

    def decode(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, D) unit vectors → (N, S, S, 3) uint8 RGB reconstructions."""
        embeddings = np.asarray(embeddings, np.float32)
        if embeddings.ndim == 1:
            embeddings = embeddings[None]
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dimension:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"expected embeddings of shape (N, {self.dimension}), got {embeddings.shape}",
            )
        if not np.isfinite(embeddings).all():
            raise FaceLensError(ErrorCode.BAD_ARGUMENT, "embeddings hold NaN or infinite values")
        faces = self.run(embeddings)[0]
        return np.clip(faces * 255 + 0.5, 0, 255).astype(np.uint8)

    def reembed(self, embedder: Embedder, crops: np.ndarray) -> np.ndarray:
        """(N, D) embeddings of reconstructions, as `embedder` embeds a face: each crop is
        upscaled to 112 px and given the template's five points and the canonical mesh."""
        points = (self.template * EMBED_SIZE)[None]
        mesh = self.crop_mesh[None]
        rows = []
        for crop in crops:
            big = cv2.resize(crop, (EMBED_SIZE, EMBED_SIZE), interpolation=cv2.INTER_LINEAR)
            rows.append(embedder.embed_faces(big, points, mesh)[0])
        return np.stack(rows) if rows else np.zeros((0, embedder.dimension), np.float32)
