"""Does the recogniser recognise a face's reconstruction? LFW fold 10 (never trained on).

Every image of fold 10's View 2 pairs is detected, embedded and decoded; each
reconstruction is re-embedded as a face (facelens.explain.decoder.reembed) and searched
among the embeddings of all the fold's source images. Reported: rank-1 and rank-5 of its own
source image, rank-1 of its person (the best-scoring source shows the same person), the
median cosine between a face's embedding and its reconstruction's, the same per network
(SFace, dlib), decode time per face (batch of 1, and batched), the reconstruction time of
`explain.reconstruct` (detection and embedding included) and of a pair panel.

    python -m facelens.eval.reconstruction --data ../shared/data/lfw --out recon.json
    python -m facelens.eval.reconstruction --images ../shared/data/utkface-dev --limit 800

`--images DIR` evaluates a folder of one-face photos without identities instead (UTKFace
dev: never trained on, and never looked at while the decoder was designed); each photo is
its own person there, so person rank-1 is rank-1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import typer

from facelens.explain.decoder import FaceDecoderModel
from facelens.explain.reconstruct import default_decoder, reconstruct, reconstruct_pair
from facelens.explain.render_reconstruction import reconstruction_pair_panel
from facelens.recognition.base import normalise
from facelens.recognition.registry import get_embedder, get_network
from facelens.train.decoder_data import FaceSet, embed_images, folder_images, lfw_images

FOLD = 9  # 0-based: LFW's tenth fold
TIMED = 20  # faces timed one at a time


def ranks(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """0-based rank of gallery row i among all rows for query i (cosine, higher first)."""
    scores = queries @ gallery.T
    own = np.diag(scores)[:, None]
    return np.sum(scores > own, axis=1)


def _summary(faces: FaceSet, again: np.ndarray, sources: np.ndarray) -> dict:
    rank = ranks(again, sources)
    people = np.array(faces.people)
    scores = again @ sources.T
    best = np.argmax(scores, axis=1)
    others = scores[~np.eye(len(scores), dtype=bool)]
    return {
        "rank1": round(float(np.mean(rank == 0)), 4),
        "rank5": round(float(np.mean(rank < 5)), 4),
        "person_rank1": round(float(np.mean(people[best] == people)), 4),
        "median_cosine": round(float(np.median(np.diag(scores))), 4),
        "median_cosine_to_others": round(float(np.median(others)), 4),
    }


def _timing(decoder: FaceDecoderModel, embeddings: np.ndarray, images: list[str]) -> dict:
    decoder.decode(embeddings[:1])
    started = time.perf_counter()
    for row in embeddings[:TIMED]:
        decoder.decode(row[None])
    single = (time.perf_counter() - started) / TIMED
    started = time.perf_counter()
    decoder.decode(embeddings)
    batched = (time.perf_counter() - started) / len(embeddings)
    reconstruct(images[0])
    started = time.perf_counter()
    for image in images[:5]:
        reconstruct(image)
    one = (time.perf_counter() - started) / 5
    started = time.perf_counter()
    for first, second in zip(images[:5], images[5:10], strict=True):
        reconstruction_pair_panel(reconstruct_pair(first, second))
    pair = (time.perf_counter() - started) / 5
    return {
        "decode_ms": round(single * 1000, 2),
        "decode_batched_ms": round(batched * 1000, 2),
        "reconstruct_ms": round(one * 1000, 1),
        "pair_panel_ms": round(pair * 1000, 1),
    }


def evaluation_images(lfw_dir: Path, folder: Path | None, limit: int | None) -> list:
    """LFW fold 10's images, or `limit` photos spread evenly over a folder's sorted names."""
    if folder is None:
        return lfw_images(lfw_dir.resolve(), [FOLD])
    images = folder_images(folder.resolve())
    step = max(1, len(images) // limit) if limit else 1
    return images[::step][:limit]


def evaluate(
    lfw_dir: Path,
    cache_dir: Path | None,
    embedder_name: str = "fused",
    folder: Path | None = None,
    limit: int | None = None,
) -> dict:
    decoder = default_decoder()
    embedder = get_embedder(embedder_name)
    decoder.check(embedder)
    faces = embed_images(evaluation_images(lfw_dir, folder, limit), embedder, cache_dir)
    sources = faces.embeddings[:, 0]
    pictures = decoder.decode(sources)
    result = {
        "embedder": embedder.name,
        "faces": len(faces),
        "people": len(set(faces.people)),
        "undetected": int((~faces.detected).sum()),
        embedder.name: _summary(faces, decoder.reembed(embedder, pictures), sources),
    }
    if embedder.name == "fused":  # the two networks' own views of the same reconstructions
        for start, name in ((0, "sface"), (128, "dlib")):
            part = normalise(sources[:, start : start + 128])
            again = decoder.reembed(get_network(name), pictures)
            result[name] = _summary(faces, again, part)
    result.update(_timing(decoder, sources, faces.files))
    return result


def main(
    data: Path = typer.Option(Path("../shared/data/lfw"), help="The LFW folder."),
    out: Path | None = typer.Option(None, help="Write the JSON result here too."),
    cache: Path = typer.Option(Path("/tmp/facelens_recon/cache"), help="Crop/embedding cache."),
    images: Path | None = typer.Option(None, help="A folder of one-face photos instead of LFW."),
    limit: int | None = typer.Option(None, help="With --images: at most this many photos."),
) -> None:
    result = evaluate(data, cache, folder=images, limit=limit)
    text = json.dumps(result, indent=2)
    if out:
        out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    typer.run(main)
