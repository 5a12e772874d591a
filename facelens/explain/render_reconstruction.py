"""Panels of reconstruction explanations: one face, or a pair with where the reconstructions
differ (and, when given, the pair's similar/dissimilar maps), with a legend and the note on
what a reconstruction is and is not."""

from __future__ import annotations

import cv2
import numpy as np

from facelens.drawing import DISSIMILAR, SIMILAR, colourise, put_text
from facelens.explain.render import overlay
from facelens.explain.result import Reconstruction, ReconstructionPair

TILE = 160
LABEL = 22
NOTE = (
    "A reconstruction is not the person's photo: it shows what the recogniser's "
    "embedding retains of the face."
)
DIFFERENCE_SCALE = 0.25  # a mean |RGB difference| of 0.25 (of the 0..1 range) is full red


def _tile(picture: np.ndarray | None, label: str) -> np.ndarray:
    tile = np.full((TILE + LABEL, TILE, 3), 255, np.uint8)
    if picture is not None:
        tile[:TILE] = cv2.resize(picture, (TILE, TILE), interpolation=cv2.INTER_LINEAR)
    put_text(tile, label, 4, TILE + 16, (40, 40, 40), 0.42)
    return tile


def _heat(base: np.ndarray, values: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """A 0..1 map over an RGB picture (opacity follows the value)."""
    colours, opacity = colourise(values, alpha)
    mixed = base.astype(np.float32) * (1 - opacity[..., None]) + colours * opacity[..., None]
    return np.clip(mixed, 0, 255).astype(np.uint8)


def _strip(width: int, lines: list[str], swatches: bool) -> np.ndarray:
    strip = np.full((30 + 22 * len(lines), width, 3), 255, np.uint8)
    bar, _ = colourise(np.tile(np.linspace(0, 1, 120, dtype=np.float32), (14, 1)))
    strip[8:22, 8:128] = bar.astype(np.uint8)
    put_text(strip, "low -> high (region change / difference)", 136, 20, (60, 60, 60), 0.42)
    if swatches:
        strip[8:22, 470:484], strip[8:22, 560:574] = SIMILAR, DISSIMILAR
        put_text(strip, "similar", 488, 20, (60, 60, 60), 0.42)
        put_text(strip, "dissimilar", 578, 20, (60, 60, 60), 0.42)
    for i, line in enumerate(lines):
        put_text(strip, line, 8, 44 + 22 * i, (0, 0, 0), 0.42)
    return strip


def _rows(rows: list[list[np.ndarray]], header: list[str], swatches: bool) -> np.ndarray:
    body = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
    top = np.full((12 + 24 * len(header), body.shape[1], 3), 255, np.uint8)
    for i, line in enumerate(header):
        put_text(top, line, 8, 26 + 24 * i, (0, 0, 0), 0.55)
    words, lines, line = NOTE.split(), [], ""
    for word in words:  # wrap the note to the panel's width (about 7 px a character)
        if len(line) + len(word) + 1 > body.shape[1] // 7:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    lines.append(line)
    return np.concatenate([top, body, _strip(body.shape[1], lines, swatches)], axis=0)


def reconstruction_panel(result: Reconstruction) -> np.ndarray:
    """Face | reconstruction | regions the embedding encodes, with legend and note."""
    tiles = [
        _tile(result.source, "face (aligned)"),
        _tile(result.reconstruction, "reconstruction"),
        _tile(_heat(result.reconstruction, result.region_map), "regions encoded"),
    ]
    header = [
        f"What the {result.embedder} embedding keeps of this face",
        f"cosine(face, reconstruction) = {result.cosine:.3f}",
    ]
    return _rows([tiles], header, swatches=False)


def reconstruction_pair_panel(pair: ReconstructionPair) -> np.ndarray:
    """Both faces and reconstructions, where the reconstructions differ, the regions each
    embedding encodes and, when the pair carries them, its similar/dissimilar maps."""
    a, b = pair.a, pair.b
    middle = ((a.reconstruction.astype(np.float32) + b.reconstruction) / 2).astype(np.uint8)
    difference = np.clip(pair.difference / DIFFERENCE_SCALE, 0, 1)
    maps = pair.pair_maps
    first = [
        _tile(a.source, "face A"),
        _tile(a.reconstruction, "reconstruction A"),
        _tile(_heat(middle, difference), "where they differ"),
        _tile(b.reconstruction, "reconstruction B"),
        _tile(b.source, "face B"),
    ]
    second = [
        _tile(overlay(maps.a, on="crop") if maps else None, "similar/dissimilar A" if maps else ""),
        _tile(_heat(a.reconstruction, a.region_map), "regions encoded A"),
        _tile(None, ""),
        _tile(_heat(b.reconstruction, b.region_map), "regions encoded B"),
        _tile(overlay(maps.b, on="crop") if maps else None, "similar/dissimilar B" if maps else ""),
    ]
    header = [
        f"similarity {pair.similarity:.3f} (faces), {pair.reconstruction_similarity:.3f} "
        f"(reconstructions); mean difference {pair.difference_summary.mean:.3f}",
    ]
    return _rows([first, second], header, swatches=maps is not None)
