"""Labelled scenes built on the fly: real faces pasted at known places and sizes into large frames.

No labelled crowd set is in ../shared/data, so the labels come by construction. Source faces are
LFW, UTKFace dev and CFP dev photos (frontal and profile); a face's box is the extent of the 468
mesh points of facelens's first pipeline (BlazeFace + mesh), sources where it finds no face are
skipped. Each face is resized so its box is 16-200 px (log-uniform), mirrored half the time,
cut out as a head-shaped ellipse with a feathered edge and blended into a background at a free
spot. Backgrounds are synthetic
textures (smooth noise, shapes and lines) or face-free 64-px blocks of shared photos, shuffled.
Everything is seeded; nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SIZE_RANGE = (16.0, 200.0)
# shared photos whose face-free blocks make real-texture backgrounds (hands, suits, flags, tables)
BACKGROUND_PHOTOS = (
    "inspireface/insightface_samples/t1.jpg",
    "face_recognition/examples/knn_examples/test/obama_and_biden.jpg",
    "face_recognition/examples/two_people.jpg",
    "face_recognition/examples/obama-1080p.jpg",
)
BLOCK = 64


@dataclass
class SourceFace:
    rgb: np.ndarray
    box: np.ndarray  # xyxy in rgb's pixels
    kind: str  # lfw, utkface, cfp-frontal, cfp-profile


@dataclass
class Scene:
    rgb: np.ndarray
    boxes: np.ndarray  # (N, 4) xyxy of the pasted faces' boxes
    kinds: list[str]


def face_size(boxes: np.ndarray) -> np.ndarray:
    """A box's size in px: the side of the square of the same area."""
    return np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))


def source_paths(data: Path, count: int, rng: np.random.Generator) -> list[tuple[Path, str]]:
    """`count` photos, a quarter from each of LFW, UTKFace dev, CFP frontal and CFP profile."""
    pools = {
        "lfw": sorted((data / "lfw" / "images").glob("*/*.jpg")),
        "utkface": sorted((data / "utkface-dev").glob("*.jpg")),
        "cfp-frontal": sorted((data / "cfp-dev" / "Images").glob("*/frontal/*.jpg")),
        "cfp-profile": sorted((data / "cfp-dev" / "Images").glob("*/profile/*.jpg")),
    }
    out = []
    for kind, pool in pools.items():
        picks = rng.choice(len(pool), size=min(len(pool), count // len(pools)), replace=False)
        out += [(pool[i], kind) for i in sorted(picks)]
    return out


def smooth_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Coloured noise summed over octaves: clouds, foliage, walls."""
    out = np.zeros((h, w, 3), np.float32)
    for octave in range(2, 8):
        cells = 2**octave
        grid = rng.random((cells * h // max(h, w) + 2, cells * w // max(h, w) + 2, 3))
        out += cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC) / octave
    out -= out.min()
    return (out / max(out.max(), 1e-6) * 255).astype(np.uint8)


def shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A gradient with random rectangles, circles and lines: man-made clutter, round blobs."""
    ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    out = np.ascontiguousarray(np.broadcast_to(a + (b - a) * ramp, (h, w, 3)).astype(np.uint8))
    for _ in range(int(rng.integers(40, 120))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(5, max(h, w) // 8))
        shape = rng.integers(3)
        if shape == 0:
            cv2.rectangle(out, (x, y), (x + r, y + int(rng.integers(5, r + 6))), colour, -1)
        elif shape == 1:
            cv2.circle(out, (x, y), r // 2, colour, -1)
        else:
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(out, (x, y), end, colour, int(rng.integers(1, 8)))
    return cv2.GaussianBlur(out, (0, 0), 1.0)


def face_free_blocks(photo: np.ndarray, face_boxes: np.ndarray) -> np.ndarray:
    """(K, BLOCK, BLOCK, 3) blocks of a photo that touch no face box grown by half its size."""
    h, w = photo.shape[:2]
    ys, xs = np.mgrid[: h // BLOCK, : w // BLOCK]
    starts = np.stack([xs.ravel(), ys.ravel()], 1) * BLOCK
    grow = (face_boxes[:, 2:] - face_boxes[:, :2]) / 2
    lo, hi = face_boxes[:, None, :2] - grow[:, None], face_boxes[:, None, 2:] + grow[:, None]
    touch = ((starts < hi) & (starts + BLOCK > lo)).all(2).any(0)
    free = starts[~touch]
    return np.stack([photo[y : y + BLOCK, x : x + BLOCK] for x, y in free])


def shuffled_blocks(rng: np.random.Generator, blocks: np.ndarray, h: int, w: int) -> np.ndarray:
    rows, cols = -(-h // BLOCK), -(-w // BLOCK)
    picks = blocks[rng.integers(0, len(blocks), rows * cols)]
    grid = picks.reshape(rows, cols, BLOCK, BLOCK, 3).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(grid.reshape(rows * BLOCK, cols * BLOCK, 3)[:h, :w])


def background(rng: np.random.Generator, h: int, w: int, blocks: np.ndarray) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        return smooth_noise(rng, h, w)
    if kind == 1:
        return shapes(rng, h, w)
    return shuffled_blocks(rng, blocks, h, w)


def cutout(
    face: SourceFace, size: float, mirror: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The source resized so its face box is `size` px, padded by replication around the head:
    (patch, alpha (H, W, 1) in [0, 1], face box in patch pixels)."""
    box = face.box.astype(np.float64)
    f = size / float(face_size(box[None])[0])
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    image = cv2.resize(face.rgb, None, fx=f, fy=f, interpolation=interp)
    box = box * f
    if mirror:
        image = image[:, ::-1]
        box = np.array([image.shape[1] - box[2], box[1], image.shape[1] - box[0], box[3]])
    pad = int(np.ceil(size * 1.5))
    image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    box = box + pad
    half = (box[2:] - box[:2]) / 2
    centre = (box[:2] + box[2:]) / 2 - [0, 0.1 * half[1]]  # hair above the forehead
    x0, y0 = np.floor(centre - half * [1.4, 1.5]).astype(int)
    x1, y1 = np.ceil(centre + half * [1.4, 1.5]).astype(int)
    patch = image[y0:y1, x0:x1]
    alpha = np.zeros(patch.shape[:2], np.float32)
    axes = (int(half[0] * 1.2), int(half[1] * 1.3))
    cv2.ellipse(alpha, (int(centre[0] - x0), int(centre[1] - y0)), axes, 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.6, 0.08 * size))[:, :, None]
    return patch, alpha, box - [x0, y0, x0, y0]


def build_scene(
    rng: np.random.Generator,
    faces: list[SourceFace],
    blocks: np.ndarray,
    shape: tuple[int, int],
    count: int,
) -> Scene:
    """`count` faces (fewer if no free spot is found) pasted into one frame of `shape`."""
    h, w = shape
    frame = background(rng, h, w, blocks).astype(np.float32)
    taken: list[np.ndarray] = []
    boxes, kinds = [], []
    for _ in range(count):
        face = faces[int(rng.integers(len(faces)))]
        size = float(np.exp(rng.uniform(*np.log(SIZE_RANGE))))
        patch, alpha, box = cutout(face, size, bool(rng.integers(2)))
        ph, pw = patch.shape[:2]
        if ph >= h or pw >= w:
            continue
        for _ in range(30):  # a free spot: no overlap with the patches already placed
            x, y = int(rng.integers(0, w - pw)), int(rng.integers(0, h - ph))
            spot = np.array([x, y, x + pw, y + ph])
            if all((spot[:2] >= t[2:]).any() or (spot[2:] <= t[:2]).any() for t in taken):
                break
        else:
            continue
        taken.append(spot)
        region = frame[y : y + ph, x : x + pw]
        region += alpha * (patch.astype(np.float32) - region)
        boxes.append(box + np.array([x, y, x, y]))
        kinds.append(face.kind)
    return Scene(
        frame.clip(0, 255).astype(np.uint8), np.array(boxes, np.float32).reshape(-1, 4), kinds
    )
