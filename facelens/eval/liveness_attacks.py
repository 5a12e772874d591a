"""Presentation attacks made from real photos and the real clip, for `facelens eval liveness`.

Every attack is a list of RGB frames (FPS frames a second) that the evaluation writes to an
.mp4 and reads back through the public API, so the codec sees them as it would a camera:
- held_photo: a printed photo held up in front of the camera: a plane in 3D that turns and
  shifts smoothly at random, projected by a pinhole camera (one homography per frame);
- screen_photo: the same plane showing the photo on a screen: the screen's RGB stripe pixel
  grid (which aliases into moiré when resampled), a display gamma and blue cast, glare and a
  refresh flicker (a brightness beat and a rolling band);
- frozen: one real frame repeated (a virtual-camera replay of a still);
- flat_replay: every frame of the live clip shown on a moving screen (a video replay).
"""

from __future__ import annotations

import cv2
import numpy as np

FPS = 30
FRAME = (640, 480)  # width, height
BACKGROUND = 70  # grey level of the room behind the photo


def smooth_motion(frames: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A slow random wobble: two sinusoids of 0.1-0.7 Hz with random phases, in ±amplitude."""
    t = np.arange(frames) / FPS
    waves = [
        np.sin(2 * np.pi * rng.uniform(0.1, 0.7) * t + rng.uniform(0, 2 * np.pi)) for _ in range(2)
    ]
    return amplitude * np.mean(waves, axis=0)


def plane_homographies(
    frames: int, width: int, height: int, rng: np.random.Generator, fill: float = 0.75
) -> np.ndarray:
    """(frames, 3, 3): a width×height picture as a plane held `fill` of the frame high, turned
    by up to ±20° about each in-plane axis and ±8° in plane, shifted and moved to and fro."""
    out_w, out_h = FRAME
    focal = 1.2 * out_w
    tilt_x, tilt_y = smooth_motion(frames, rng, 20), smooth_motion(frames, rng, 20)
    roll = smooth_motion(frames, rng, 8)
    shift_x, shift_y = smooth_motion(frames, rng, 0.08), smooth_motion(frames, rng, 0.06)
    depth = 1.0 + smooth_motion(frames, rng, 0.12)
    unit = fill * out_h / (focal * height)  # picture pixels → plane units (at depth 1)
    centre = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1]], float)
    camera = np.array([[focal, 0, out_w / 2], [0, focal, out_h / 2], [0, 0, 1]], float)
    result = np.zeros((frames, 3, 3))
    for i in range(frames):
        rotation = _rotation(np.radians(tilt_x[i]), np.radians(tilt_y[i]), np.radians(roll[i]))
        translation = np.array([shift_x[i] * out_w / focal, shift_y[i] * out_h / focal, 1.0])
        plane = np.column_stack([rotation[:, 0], rotation[:, 1], translation * depth[i]])
        result[i] = camera @ plane @ np.diag([unit, unit, 1.0]) @ centre
    return result


def _rotation(about_x: float, about_y: float, about_z: float) -> np.ndarray:
    cx, sx, cy, sy = np.cos(about_x), np.sin(about_x), np.cos(about_y), np.sin(about_y)
    cz, sz = np.cos(about_z), np.sin(about_z)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _show(picture: np.ndarray, homography: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    frame = cv2.warpPerspective(
        picture, homography, FRAME, flags=cv2.INTER_LINEAR, borderValue=(BACKGROUND,) * 3
    )
    noise = rng.normal(0, 2.0, frame.shape)  # sensor noise of the camera filming the attack
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def held_photo(photo: np.ndarray, seconds: float, rng: np.random.Generator) -> list[np.ndarray]:
    frames = int(seconds * FPS)
    height, width = photo.shape[:2]
    return [_show(photo, h, rng) for h in plane_homographies(frames, width, height, rng)]


def screen_pixels(picture: np.ndarray) -> np.ndarray:
    """The picture on a display: 3× up-sampled onto R, G, B sub-pixel stripes, display gamma
    and a blue cast (an LCD's white point)."""
    large = cv2.resize(picture, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
    stripes = np.zeros_like(large, dtype=np.float32)
    for channel in range(3):
        stripes[:, channel::3, channel] = 1.0
    shown = large.astype(np.float32) * (0.35 + 0.65 * stripes) * np.array([0.92, 0.97, 1.08])
    return np.clip(255 * (shown / 255) ** 0.8, 0, 255).astype(np.uint8)


def _flicker(frame: np.ndarray, index: int) -> np.ndarray:
    """A 5 Hz brightness beat and a dark band rolling down once a second."""
    t = index / FPS
    rows = np.arange(frame.shape[0]) / frame.shape[0]
    band = 1 - 0.12 * np.exp(-(((rows - (t % 1.0)) / 0.08) ** 2))
    gain = (1 + 0.06 * np.sin(2 * np.pi * 5 * t)) * band[:, None, None]
    return np.clip(frame * gain, 0, 255).astype(np.uint8)


def screen_photo(photo: np.ndarray, seconds: float, rng: np.random.Generator) -> list[np.ndarray]:
    frames = int(seconds * FPS)
    shown = screen_pixels(photo)
    height, width = shown.shape[:2]
    homographies = plane_homographies(frames, width, height, rng)
    return [_flicker(_show(shown, h, rng), i) for i, h in enumerate(homographies)]


def frozen(frame: np.ndarray, seconds: float) -> list[np.ndarray]:
    return [frame] * int(seconds * FPS)


def flat_replay(clip: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Each frame of a live clip shown on one moving screen: the face's own motion stays,
    but everything moves with the screen's plane."""
    height, width = clip[0].shape[:2]
    shown = [screen_pixels(frame) for frame in clip]
    homographies = plane_homographies(len(clip), 3 * width, 3 * height, rng, fill=0.9)
    pairs = enumerate(zip(shown, homographies, strict=True))
    return [_flicker(_show(s, h, rng), i) for i, (s, h) in pairs]
