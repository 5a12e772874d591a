"""Training of the occlusion CNN (facelens.quality.occlusion) on synthetic occluders.

Used by facelens/train/quality.py; needs torch. Labels are soft: the fraction of each region
box (eyes, nose, mouth) that the synthetic occluder covers.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from facelens.quality.occlusion import BOXES, CHANNELS, INPUT, REGIONS, prepare
from facelens.train import degrade

SIZE = 150


def _shape_mask(rng: np.random.Generator, box: tuple[int, int, int, int]) -> np.ndarray:
    """A random rectangle, ellipse or polygon roughly over `box` (jittered, rescaled)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2 + rng.normal(0, 5), (y0 + y1) / 2 + rng.normal(0, 5)
    w, h = (x1 - x0) * rng.uniform(0.8, 1.5), (y1 - y0) * rng.uniform(0.8, 1.6)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    kind = rng.integers(3)
    if kind == 0:
        cv2.rectangle(
            mask, (int(cx - w / 2), int(cy - h / 2)), (int(cx + w / 2), int(cy + h / 2)), 1, -1
        )
    elif kind == 1:
        cv2.ellipse(
            mask,
            (int(cx), int(cy)),
            (int(w / 2), int(h / 2)),
            float(rng.uniform(-15, 15)),
            0,
            360,
            1,
            -1,
        )
    else:
        angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
        radius = rng.uniform(0.7, 1.0, 7)
        pts = np.stack([cx + w / 2 * radius * np.cos(angles), cy + h / 2 * radius * np.sin(angles)])
        cv2.fillPoly(mask, [pts.T.astype(np.int32)], 1)
    return mask


def _glasses(rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    ry, rx = int(rng.uniform(10, 16)), int(rng.uniform(16, 24))
    y = int(46 + rng.normal(0, 2))
    for x in (47, 101):
        cv2.ellipse(mask, (x + int(rng.normal(0, 2)), y), (rx, ry), 0, 0, 360, 1, -1)
    cv2.line(mask, (60, y - 4), (90, y - 4), 1, 3)
    return mask


def _face_mask(rng: np.random.Generator) -> np.ndarray:
    """A medical-mask outline: from the nose bridge (or just below) over mouth and chin."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    top = int(rng.uniform(58, 78))
    pts = np.array(
        [[22, top + 8], [50, top], [98, top], [128, top + 8], [120, 135], [75, 150], [30, 135]]
    )
    cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
    return mask


def _fill(rng: np.random.Generator, chips: np.ndarray) -> np.ndarray:
    """What covers the face: plain colour with shading and noise, a texture from another
    photo, or skin cut from another face (a hand)."""
    style = rng.integers(4)
    if style <= 1:
        colour = rng.integers(0, 256, 3).astype(np.float32)
        ramp = np.linspace(-1, 1, SIZE, dtype=np.float32)[None, :, None] * rng.uniform(0, 40)
        fill = colour + ramp + rng.normal(0, rng.uniform(1, 20), (SIZE, SIZE, 3))
        if style == 1:  # pleats / folds, as on masks and scarves
            stripes = np.sin(np.arange(SIZE) / rng.uniform(2, 6))[:, None, None]
            fill += stripes * rng.uniform(5, 30)
    else:
        other = chips[rng.integers(len(chips))]
        if style == 2:  # background / hair / clothes from a corner of another chip
            corner = other[np.ix_(*(np.arange(0, 40) + rng.integers(0, 110) for _ in range(2)))]
        else:  # skin: the cheek of another face, as a hand over the face
            corner = other[75:100, 20:45]
        fill = cv2.resize(corner, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return np.clip(fill, 0, 255)


def _uneven_light(rng: np.random.Generator, chip: np.ndarray) -> np.ndarray:
    """Light falling from one side: brightness ramps from one factor to another across the
    face, in a random direction (burnt-out or shadowed halves are not occluders)."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] / SIZE - 0.5
    ramp = np.clip(0.5 + (np.cos(angle) * xs + np.sin(angle) * ys) * rng.uniform(1, 3), 0, 1)
    low, high = np.log(rng.uniform(0.15, 0.8)), np.log(rng.uniform(1.5, 4.0))
    gain = np.exp(low + (high - low) * ramp)[..., None]
    return np.clip(chip * gain, 0, 255).astype(np.uint8)


def _degrade(rng: np.random.Generator, chip: np.ndarray) -> np.ndarray:
    kind = rng.integers(7)
    if kind == 5:
        return _uneven_light(rng, chip)
    if kind == 0:
        return degrade.gaussian_blur(chip, float(rng.uniform(0.5, 4)))
    if kind == 1:
        return degrade.noise(chip, float(rng.uniform(2, 30)), rng)
    if kind == 2:
        return degrade.brightness(
            chip, float(rng.choice([rng.uniform(0.2, 0.7), rng.uniform(1.3, 3.0)]))
        )
    if kind == 3:
        return degrade.jpeg(chip, float(rng.integers(4, 50)))
    if kind == 4:
        return degrade.downscale(chip, float(rng.uniform(0.15, 0.5)), back_up=True)
    return chip


def synthesise(
    rng: np.random.Generator, chips: np.ndarray, index: int
) -> tuple[np.ndarray, np.ndarray]:
    """One training example from chip `index`: (chip, coverage of each region)."""
    chip = chips[index].copy()
    mask = np.zeros((SIZE, SIZE), np.uint8)
    pick = rng.random()
    if pick < 0.35:
        pass  # clean (maybe degraded below)
    elif pick < 0.45:
        mask = _glasses(rng)
    elif pick < 0.55:
        mask = _face_mask(rng)
    else:
        chosen = [r for r in REGIONS if rng.random() < 0.4] or [REGIONS[rng.integers(3)]]
        for region in chosen:
            mask |= _shape_mask(rng, BOXES[region])
        if rng.random() < 0.3:  # a stray small blob elsewhere: must not count much
            x, y = rng.integers(10, 140, 2)
            mask |= _shape_mask(rng, (x - 10, y - 10, x + 10, y + 10))
    if mask.any():
        fill = _fill(rng, chips)
        soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)[..., None]
        chip = (chip * (1 - soft) + fill * soft).astype(np.uint8)
    if rng.random() < 0.5:
        chip = _degrade(rng, chip)
    cover = np.array([mask[y0:y1, x0:x1].mean() for x0, y0, x1, y1 in BOXES.values()])
    return chip, cover


def train(chips: np.ndarray, epochs: int = 12, seed: int = 0) -> dict[str, list]:
    """Fit the CNN on synthetic occlusions of `chips`; returns its weights as lists."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for c_in, c_out in itertools.pairwise(CHANNELS):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    side = INPUT // 8
    model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(CHANNELS[-1] * side * side, 3))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    steps = epochs * len(chips) // 128
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 3e-3, total_steps=steps)
    for _step in range(steps):
        picks = rng.integers(0, len(chips), 128)
        pairs = [synthesise(rng, chips, int(i)) for i in picks]
        x = torch.from_numpy(prepare(np.stack([p[0] for p in pairs])))
        # coverage ≥ 60% is "occluded", ≤ 20% is not; in between the label is graded
        y = torch.from_numpy(np.clip((np.stack([p[1] for p in pairs]) - 0.2) / 0.4, 0, 1))
        loss = loss_fn(model(x), y.float())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    names = ["conv0", "conv1", "conv2"]
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    out = {}
    for name, conv in zip(names, convs, strict=True):
        out[f"{name}.weight"] = conv.weight.detach().numpy().round(5).tolist()
        out[f"{name}.bias"] = conv.bias.detach().numpy().round(5).tolist()
    fc = model[-1]
    # torch flattens (C, H, W); occlusion.forward flattens the same NumPy layout.
    out["fc.weight"] = fc.weight.detach().numpy().round(5).tolist()
    out["fc.bias"] = fc.bias.detach().numpy().round(5).tolist()
    return out
