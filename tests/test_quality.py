"""Face quality: labelled photos (InspireFace, face_recognition) and exact synthetic cases."""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from facelens.lens import FaceLens
from facelens.quality import components, geometry, image_stats
from facelens.quality.components import Scale
from facelens.quality.roi import largest_rectangle
from facelens.train import degrade
from facelens.types import Quality


@pytest.fixture(scope="module")
def lens() -> FaceLens:
    return FaceLens()


@cache
def _analyse(path: str) -> list[Quality]:
    result = FaceLens().analyze(path, quality=True, attributes=False)
    return [face.quality for face in result.faces if face.quality is not None]


def quality_of(data_dir: Path, relative: str) -> Quality:
    found = _analyse(str(data_dir / relative))
    assert found, f"no face found in {relative}"
    return found[0]


def raw(quality: Quality, name: str) -> float:
    return quality.components[name].raw


def test_good_photo_beats_blurred_one(data_dir: Path) -> None:
    good = quality_of(data_dir, "inspireface/test_res/bulk/yifei.jpg")
    blurred = quality_of(data_dir, "inspireface/test_res/bulk/blur.jpg")
    assert good.score > blurred.score
    assert "too blurred" in blurred.reasons
    assert good.components["sharpness"].score > blurred.components["sharpness"].score


@pytest.mark.parametrize(
    ("name", "component", "low", "high"),
    [
        ("left_face.jpeg", "yaw", -90, -10),
        ("right_face.png", "yaw", 10, 90),
        ("lower_face.jpeg", "pitch", -90, -10),
        ("left_wryneck.png", "roll", -90, -30),
        ("right_wryneck.png", "roll", 30, 90),
    ],
)
def test_head_pose_signs(
    data_dir: Path, name: str, component: str, low: float, high: float
) -> None:
    value = raw(quality_of(data_dir, f"inspireface/test_res/pose/{name}"), component)
    assert low <= value <= high


def test_pose_reason_names_the_direction(data_dir: Path) -> None:
    turned = quality_of(data_dir, "inspireface/test_res/pose/left_face.jpeg")
    assert "face turned too far left" in turned.reasons


def test_eyes_open_and_closed(data_dir: Path) -> None:
    opened = quality_of(data_dir, "inspireface/test_res/reaction/open_eyes.png")
    closed = quality_of(data_dir, "inspireface/test_res/reaction/close_eyes.jpeg")
    assert opened.components["eyes_open"].score >= 80 and "eyes closed" not in opened.reasons
    assert closed.components["eyes_open"].score <= 20 and "eyes closed" in closed.reasons


def test_mask_is_an_occluded_mouth(data_dir: Path) -> None:
    masked = quality_of(data_dir, "inspireface/test_res/bulk/mask2.jpg")
    bare = quality_of(data_dir, "inspireface/test_res/bulk/face_sample.png")
    assert "occluded mouth" in masked.reasons
    assert not any(reason.startswith("occluded") for reason in bare.reasons)
    assert masked.components["occlusion_mouth"].score < bare.components["occlusion_mouth"].score


def test_quality_does_not_fall_as_resolution_rises(data_dir: Path) -> None:
    ladder = [
        quality_of(data_dir, f"face_recognition/examples/obama-{p}.jpg").score
        for p in ("240p", "480p", "720p", "1080p")
    ]
    assert all(b >= a - 0.005 for a, b in itertools.pairwise(ladder)), ladder


def test_partial_face_is_cut_off(data_dir: Path) -> None:
    found = _analyse(str(data_dir / "face_recognition/tests/test_images/obama_partial_face.jpg"))
    if found:  # the detector may miss a half face; when it finds one, it must say so
        assert "face cut off at the image edge" in found[0].reasons


def test_good_photo_is_ok_with_a_trusted_region(data_dir: Path) -> None:
    good = quality_of(data_dir, "face_recognition/examples/obama-720p.jpg")
    assert good.verdict == "ok" and good.band in ("green", "yellow")
    assert good.roi is not None and good.roi.width > 20 and good.roi.height > 20
    assert set(components.NAMES) <= set(good.components)


def test_verify_refuses_a_retake_face(data_dir: Path, lens: FaceLens) -> None:
    from facelens.io import load_image

    photo = load_image(data_dir / "face_recognition/tests/test_images/obama.jpg")
    dark = degrade.brightness(photo, 0.12)
    result = lens.verify(dark, photo)
    assert result.status == "retake" and result.same_person is None
    assert any("under-exposed" in reason or "too dark" in reason for reason in result.reasons)
    fine = lens.verify(photo, photo)
    assert fine.status == "ok" and fine.same_person is True


def test_heatmap_points_at_features_and_glare(data_dir: Path, lens: FaceLens) -> None:
    """Covering the eyes/nose/mouth lowers a clean face's score (positive heat there); a
    glare patch pasted on the right cheek is the region that lowers it (negative heat)."""
    from facelens.io import load_image
    from facelens.quality.render import overlay

    rgb = load_image(data_dir / "face_recognition/examples/obama-480p.jpg")
    face = lens.analyze(rgb, attributes=False, quality_heatmap=True).faces[0]
    heat = face.quality.heatmap
    assert heat is not None and heat.shape == (8, 8) and np.abs(heat).max() <= 1.0
    assert heat[2:6, 2:6].max() > 0.5 and heat.min() >= -0.05  # nothing on it hurts
    assert overlay(rgb, face).shape == rgb.shape

    glare = rgb.copy()
    box = face.box
    side = int((box.x2 - box.x1) * 0.15)
    cx, cy = int((box.x1 + box.x2) / 2), int((box.y1 + box.y2) / 2)
    glare[cy - side : cy + side, cx + side // 2 : cx + side // 2 + 2 * side] = 255
    heat = lens.analyze(glare, attributes=False, quality_heatmap=True).faces[0].quality.heatmap
    row, col = np.unravel_index(np.argmin(heat), heat.shape)
    assert heat[row, col] < -0.3 and col >= 4 and 2 <= row <= 5


# Exact synthetic cases -----------------------------------------------------------------


def test_black_crop_is_under_exposed() -> None:
    gray = np.zeros((150, 150), np.float32)
    mask = np.ones((150, 150), bool)
    stats = image_stats.masked_stats(gray, mask)
    assert stats["under_exposure"] == 1.0 and stats["over_exposure"] == 0.0
    assert components.SCALES["under_exposure"](np.array([1.0]))[0] == 0.0
    white = image_stats.masked_stats(gray + 255, mask)
    assert white["over_exposure"] == 1.0 and white["dynamic_range"] == 0.0


def test_sharp_texture_beats_its_blur() -> None:
    rng = np.random.default_rng(0)
    texture = degrade.gaussian_blur(rng.uniform(0, 255, (150, 150)).astype(np.float32), 1.0)
    mask = np.ones((150, 150), bool)
    sharp = image_stats.masked_stats(texture, mask)["sharpness"]
    blurred = degrade.gaussian_blur(texture, 3.0)
    assert image_stats.masked_stats(blurred, mask)["sharpness"] < sharp - 1


def test_blockiness_finds_jpeg_blocks() -> None:
    y, x = np.mgrid[0:128, 0:128]
    smooth = (127 + 60 * np.sin(x / 9.0) + 50 * np.cos(y / 13.0)).astype(np.uint8)
    smooth = np.repeat(smooth[..., None], 3, axis=2)
    assert image_stats.blockiness(image_stats.luminance(smooth)) < 1.1
    blocky = degrade.jpeg(smooth, 3)
    assert image_stats.blockiness(image_stats.luminance(blocky)) > 2.0


def test_scale_anchors() -> None:
    scale = Scale(0.0, 1.0, 2.0, 4.0)
    assert scale(np.array([-1, 0.5, 1.5, 3.0, 5.0])).tolist() == [0, 50, 100, 50, 0]


def test_canonical_face_has_no_pose() -> None:
    canonical = geometry.canonical()
    assert np.allclose(geometry.head_pose(canonical[None] * 80 + 100, canonical), 0, atol=1e-6)


def test_largest_rectangle() -> None:
    grid = np.zeros((5, 5), bool)
    grid[1:4, 1:5] = True
    grid[0, 0] = True
    assert largest_rectangle(grid) == (1, 1, 4, 5)
    assert largest_rectangle(np.zeros((3, 3), bool)) is None
