"""LFW and degraded copies of it, as the quality model's training and evaluation data.

The expensive part (detection, and the embeddings of every perturbed chip) runs once per
image variant, in parallel worker processes, and is cached on disk in chunks, so training
and evaluation re-runs only recompute the cheap image statistics.
"""

from __future__ import annotations

import os
import pickle
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facelens.detection.align import align_faces
from facelens.detection.detector import FoundFaces
from facelens.detection.dlib_points import dlib_points
from facelens.eval.lfw_pairs import read_pairs
from facelens.io import load_image
from facelens.train import degrade
from facelens.train.degrade import Degradation

CACHE_DIR = Path(os.environ.get("FACELENS_QUALITY_CACHE", "/tmp/facelens_quality/v2"))
HELD_OUT_FOLD = 9  # the tenth fold: never used for training
CHUNK = 64
# Typical five landmarks of a 250×250 deep-funnelled LFW image (eyes, nose, mouth corners).
LFW_LAYOUT = np.array([[143, 113], [107, 113], [125, 135], [141, 158], [110, 158]], np.float32)


@dataclass(frozen=True)
class Variant:
    name: str  # relative path under images/
    degradation: Degradation | None = None
    seed: int = 0


@dataclass
class Record:
    """What detection and the network say about one image variant."""

    faces: FoundFaces  # every face found (or, when none, the clean face mapped across)
    pick: int  # the labelled (most central) face
    found: bool  # False: the detector missed it and `faces` is the fallback
    # (P, 128) float16: the picked face under each of PERTURBATIONS_AT_RUNTIME (dlib)
    embeddings: np.ndarray
    # (2, D) float16: the picked face's unit vectors from the recogniser whose utility the
    # model predicts (FaceLens's default embedder), plain and flip-fused
    recognition: np.ndarray = field(default_factory=lambda: np.zeros((2, 0), np.float16))


def recogniser_tag() -> str:
    """Which recogniser and detection code the cached records come from (a cache folder
    each: a change to facelens/detection or its weights starts a new one)."""
    from facelens.detection.names import DEFAULT_DETECTOR
    from facelens.eval.cache import detection_key
    from facelens.recognition.names import DEFAULT_EMBEDDER

    return f"{DEFAULT_EMBEDDER}-{DEFAULT_DETECTOR}-{detection_key()[:8]}"


def seed_of(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def render(root: Path, variant: Variant, clean: Record | None) -> tuple[np.ndarray, np.ndarray]:
    """The variant's RGB image (its name is relative to `root`) and the 2×3 map from the
    original image's pixels onto it."""
    rgb = load_image(root / variant.name)
    if variant.degradation is None:
        return rgb, np.eye(2, 3)
    points = clean.faces.points[clean.pick] if clean is not None else np.zeros((5, 2))
    rng = np.random.default_rng(variant.seed)
    matrix = variant.degradation.matrix(rgb.shape[1], rgb.shape[0])
    return degrade.apply(rgb, variant.degradation, points, rng), matrix


def central_face(boxes: np.ndarray, width: int, height: int) -> int:
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return int(np.argmin(np.linalg.norm(centres - [width / 2, height / 2], axis=1)))


def _mapped(clean: Record, matrix: np.ndarray) -> FoundFaces:
    """The clean image's labelled face moved by a degradation's geometry, confidence 0."""
    i = clean.pick
    mesh = clean.faces.mesh[i : i + 1].astype(np.float64)
    xy = mesh[..., :2] @ matrix[:, :2].T + matrix[:, 2]
    z = mesh[..., 2:] * np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    corners = clean.faces.boxes[i].reshape(2, 2) @ matrix[:, :2].T + matrix[:, 2]
    points = clean.faces.points[i : i + 1] @ matrix[:, :2].T + matrix[:, 2]
    return FoundFaces(
        boxes=np.concatenate([corners.min(0), corners.max(0)])[None].astype(np.float32),
        scores=np.zeros(1, np.float32),
        points=points.astype(np.float32),
        mesh=np.concatenate([xy, z], 2).astype(np.float32),
        mesh_scores=np.zeros(1, np.float32),
    )


def _default_face(lens: object, rgb: np.ndarray) -> Record:
    """A clean LFW image without a detected face: the mesh run at the typical face place of
    the deep-funnelled (centred) 250×250 images."""
    h, w = rgb.shape[:2]
    layout = LFW_LAYOUT * [w / 250, h / 250]
    box = np.array([[0.3 * w, 0.3 * h, 0.7 * w, 0.75 * h]])
    mesh = lens.detector.mesh_model.predict(rgb, box, layout[1:2], layout[0:1])  # type: ignore[attr-defined]
    faces = FoundFaces(
        box.astype(np.float32),
        np.zeros(1, np.float32),
        layout[None].astype(np.float32),
        mesh.landmarks,
        np.zeros(1, np.float32),
    )
    return Record(faces, 0, False, np.zeros(0))


def _work(args: tuple[Path, list[Variant], list[Record | None]]) -> list[Record]:
    from facelens.lens import FaceLens
    from facelens.quality import PERTURBATIONS_AT_RUNTIME
    from facelens.quality.stability import perturb, run_embedder

    root, variants, cleans = args
    lens = FaceLens()
    records, chips = [], []
    for variant, clean in zip(variants, cleans, strict=True):
        rgb, matrix = render(root, variant, clean)
        faces = lens.detector.detect(rgb)
        found = len(faces) > 0
        if found:
            pick = central_face(faces.boxes, rgb.shape[1], rgb.shape[0])
        else:
            clean = clean or _default_face(lens, rgb)
            faces, pick = _mapped(clean, matrix), 0
        chip, _ = align_faces(
            rgb, dlib_points(faces.mesh[pick : pick + 1]), lens.quality_embedder.template
        )
        chips.append(chip)
        points, mesh = faces.points[pick : pick + 1], faces.mesh[pick : pick + 1]
        recognition = np.concatenate(lens.embedder.embed_plain_and_flip(rgb, points, mesh))
        records.append(Record(faces, pick, found, np.zeros(0), recognition.astype(np.float16)))
    batch = perturb(np.concatenate(chips), PERTURBATIONS_AT_RUNTIME)
    vectors = run_embedder(lens.quality_embedder, batch).reshape(-1, len(variants), 128)
    for i, record in enumerate(records):
        record.embeddings = vectors[:, i].astype(np.float16)
    return records


def process(
    root: Path,
    variants: list[Variant],
    tag: str,
    cleans: list[Record | None] | None = None,
    tick: Callable[[int], None] | None = None,
    workers: int = 2,
) -> list[Record]:
    """Records for `variants` (names relative to `root`), from the chunked cache
    `CACHE_DIR/tag` when present."""
    folder = CACHE_DIR / recogniser_tag() / tag
    folder.mkdir(parents=True, exist_ok=True)
    cleans = cleans or [None] * len(variants)
    jobs, results = [], {}
    for start in range(0, len(variants), CHUNK):
        key = seed_of(*variants[start : start + CHUNK])
        path = folder / f"{start // CHUNK:05d}_{key:08x}.pkl"
        if path.is_file():
            results[start] = pickle.loads(path.read_bytes())
            if tick:
                tick(len(results[start]))
        else:
            chunk = (root, variants[start : start + CHUNK], cleans[start : start + CHUNK])
            jobs.append((start, path, chunk))
    if jobs:
        # One ONNX thread per worker: the processes, not the threads, share the cores.
        os.environ.setdefault("FACELENS_THREADS", "1")
        with ProcessPoolExecutor(workers) as pool:
            for (start, path, _), records in zip(
                jobs, pool.map(_work, [job[2] for job in jobs]), strict=True
            ):
                path.write_bytes(pickle.dumps(records))
                results[start] = records
                if tick:
                    tick(len(records))
    return [r for start in sorted(results) for r in results[start]]


def fold_images(data_dir: Path, held_out: bool) -> list[str]:
    names = set()
    for pair in read_pairs(data_dir):
        if (pair.fold == HELD_OUT_FOLD) == held_out:
            names.update((pair.image_a, pair.image_b))
    return sorted(names)


def identity(name: str) -> str:
    """The person of an image name: LFW `person/file.jpg`, CFP `Images/NNN/pose/file.jpg`."""
    parts = name.split("/")
    return f"cfp-{parts[1]}" if parts[0] == "Images" else parts[0]


def cfp_images(cfp_dir: Path, split: int) -> list[str]:
    """Every CFP image (frontal and profile, relative to `cfp_dir`) of the people in the
    protocol's split `split` (CFP's splits have disjoint people: in cfp-dev split 1 holds
    people 001-050, split 2 people 051-100)."""
    from facelens.eval.cfp import read_cfp, read_image_list

    people = {
        identity(n) for p in read_cfp(cfp_dir) if p.split == split for n in (p.first, p.second)
    }
    lists = [cfp_dir / "Protocol" / f"Pair_list_{kind}.txt" for kind in ("F", "P")]
    names = [name for path in lists for name in read_image_list(path).values()]
    return sorted(n for n in names if identity(n) in people)


def degraded_variants(names: list[str], copies: int, tag: str) -> list[Variant]:
    """`copies` random degradations of each image (seeded by tag, name and copy)."""
    out = []
    for name in names:
        for copy in range(copies):
            seed = seed_of(tag, name, copy)
            out.append(Variant(name, degrade.sample(np.random.default_rng(seed)), seed))
    return out


def severe_variants(names: list[str]) -> list[Variant]:
    return [
        Variant(name, d, seed_of("severe", name, d.label()))
        for d in degrade.SEVERE
        for name in names
    ]


def _measure_chunk(
    args: tuple[Path, list[Variant], list[Record], list[Record | None]],
) -> dict[str, np.ndarray]:
    from facelens.quality.measure import measure
    from facelens.recognition.dlib import DLIB_CHIP

    root, variants, records, cleans = args
    rows: dict[str, list[float]] = {}
    for variant, record, clean in zip(variants, records, cleans, strict=True):
        rgb, _ = render(root, variant, clean)
        raw = measure(rgb, record.faces, DLIB_CHIP).raw
        for name, values in raw.items():
            rows.setdefault(name, []).append(float(values[record.pick]))
    return {name: np.array(values) for name, values in rows.items()}


def measure_all(
    root: Path,
    variants: list[Variant],
    records: list[Record],
    cleans: list[Record | None] | None = None,
    workers: int = 2,
) -> dict[str, np.ndarray]:
    """Raw measures (all but stability) of each variant's labelled face, in parallel."""
    cleans = cleans or [None] * len(variants)
    chunks = [
        (root, variants[s : s + CHUNK], records[s : s + CHUNK], cleans[s : s + CHUNK])
        for s in range(0, len(variants), CHUNK)
    ]
    os.environ.setdefault("FACELENS_THREADS", "1")
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_measure_chunk, chunks))
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def chips_of(root: Path, variants: list[Variant], records: list[Record]) -> np.ndarray:
    """The aligned chips of the variants' labelled faces (cached, they feed the occlusion
    network's training)."""
    from facelens.recognition.dlib import DLIB_CHIP

    path = CACHE_DIR / f"chips_{seed_of(*variants):08x}.npy"
    if path.is_file():
        return np.load(path)
    chips = np.stack(
        [
            align_faces(
                render(root, v, None)[0],
                dlib_points(r.faces.mesh[r.pick : r.pick + 1]),
                DLIB_CHIP,
            )[0][0]
            for v, r in zip(variants, records, strict=True)
        ]
    )
    np.save(path, chips)
    return chips
