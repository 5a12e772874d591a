"""Reconstruction-based explanation (after Xu, Lu and Ebrahimi, MMSP 2023): decode a face's
embedding back into an aligned face, to show what the recogniser keeps of it.

The region map says which regions of the face the embedding encodes: the embedding is moved
by two standard deviations either way along each of the training embeddings' top principal
directions (renormalised), every moved vector is decoded in one batch, and each pixel's
change, weighted by the direction's variance, is summed and scaled to 0..1 for the face.
For a pair, the difference map is the mean |RGB difference| of the two reconstructions.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from facelens.detection.align import CropTemplate, align_faces
from facelens.explain.api import choose_face
from facelens.explain.decoder import FaceDecoderModel
from facelens.explain.result import MapSummary, PairExplanation, Reconstruction, ReconstructionPair
from facelens.io import ImageInput, load_image
from facelens.lens import FaceLens
from facelens.models.onnx_model import shared
from facelens.recognition.base import Embedder, normalise
from facelens.recognition.registry import DEFAULT_EMBEDDER, get_embedder
from facelens.types import Box

STEP = 2.0  # standard deviations moved along each principal direction
SMOOTH = 0.03  # Gaussian sigma of the maps, as a share of the crop's side


def default_decoder() -> FaceDecoderModel:
    model = shared(FaceDecoderModel)
    assert isinstance(model, FaceDecoderModel)
    return model


def decode(
    embeddings: np.ndarray,
    embedder: str = DEFAULT_EMBEDDER,
    decoder: FaceDecoderModel | None = None,
) -> np.ndarray:
    """(N, S, S, 3) uint8 reconstructions of stored (N, D) embeddings of `embedder`."""
    decoder = decoder or default_decoder()
    decoder.check(get_embedder(embedder))
    return decoder.decode(embeddings)


def _smooth(values: np.ndarray) -> np.ndarray:
    sigma = SMOOTH * values.shape[0]
    return cv2.GaussianBlur(values.astype(np.float32), (0, 0), sigma)


def region_map(decoder: FaceDecoderModel, embedding: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reconstruction uint8, 0..1 map of where it moves along the principal directions)."""
    offsets = (STEP * decoder.direction_scales)[:, None] * decoder.directions
    moved = normalise(np.concatenate([embedding + offsets, embedding - offsets]))
    faces = decoder.decode(np.concatenate([embedding[None], moved])).astype(np.float32) / 255
    count = len(offsets)
    change = np.abs(faces[1 : 1 + count] - faces[1 + count :]).mean(axis=3)
    weights = decoder.direction_scales**2 / np.sum(decoder.direction_scales**2)
    values = _smooth(np.tensordot(weights, change, axes=1))
    return (faces[0] * 255 + 0.5).astype(np.uint8), values / max(float(values.max()), 1e-6)


def reconstruct_face(
    rgb: np.ndarray,
    points: np.ndarray,
    embedding: np.ndarray,
    embedder: Embedder,
    decoder: FaceDecoderModel,
    box: Box | None = None,
) -> Reconstruction:
    """One face (its five points and `embedder`'s embedding) → its Reconstruction."""
    decoder.check(embedder)
    started = time.perf_counter()
    picture, values = region_map(decoder, embedding)
    template = CropTemplate(decoder.size, decoder.template * decoder.size)
    source = align_faces(rgb, points[None], template)[0][0]
    cosine = float(decoder.reembed(embedder, picture[None])[0] @ embedding)
    result = Reconstruction(
        embedder=embedder.name,
        size=decoder.size,
        face_box=box,
        cosine=round(cosine, 6),
        region_summary=MapSummary.of(values),
        seconds=round(time.perf_counter() - started, 4),
    )
    result._source, result._reconstruction, result._region_map = source, picture, values
    return result


def _found(image: ImageInput, face: int, embedder: str) -> tuple:
    """(RGB image, five points, embedding as FaceLens gives it, box) of the chosen face."""
    rgb = load_image(image)
    chosen = choose_face(FaceLens(embedder=embedder).embed(rgb).faces, face)
    return rgb, chosen.landmarks.to_array(), chosen.embedding_array, chosen.box


def reconstruct(
    image: ImageInput,
    face: int = 0,
    embedder: str = DEFAULT_EMBEDDER,
    decoder: FaceDecoderModel | None = None,
) -> Reconstruction:
    """The `face`-th face (largest first) of an image, decoded from its embedding, with the
    map of the regions its embedding encodes."""
    rgb, points, embedding, box = _found(image, face, embedder)
    model = get_embedder(embedder)
    return reconstruct_face(rgb, points, embedding, model, decoder or default_decoder(), box)


def reconstruct_pair(
    image_a: ImageInput,
    image_b: ImageInput,
    face_a: int = 0,
    face_b: int = 0,
    embedder: str = DEFAULT_EMBEDDER,
    decoder: FaceDecoderModel | None = None,
    pair_maps: PairExplanation | None = None,
) -> ReconstructionPair:
    """Both faces' reconstructions and where they differ; `pair_maps` (explain.pair's
    similar/dissimilar maps) is carried along for the panel."""
    model, decoder = get_embedder(embedder), decoder or default_decoder()
    # both photos decoded before either is analysed: a bad photo B costs no work on A
    rgb_a, rgb_b = load_image(image_a), load_image(image_b)
    found = [_found(rgb_a, face_a, embedder), _found(rgb_b, face_b, embedder)]
    a, b = (reconstruct_face(*face[:3], model, decoder, face[3]) for face in found)
    emb_a, emb_b = found[0][2], found[1][2]
    difference = _smooth(
        np.abs(a.reconstruction.astype(np.float32) - b.reconstruction).mean(axis=2) / 255
    )
    again = decoder.reembed(model, np.stack([a.reconstruction, b.reconstruction]))
    result = ReconstructionPair(
        similarity=round(float(emb_a @ emb_b), 6),
        reconstruction_similarity=round(float(again[0] @ again[1]), 6),
        difference_summary=MapSummary.of(difference),
        a=a,
        b=b,
        pair_maps=pair_maps,
    )
    result._difference = difference
    return result
