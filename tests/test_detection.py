"""Detector and face-mesh checks on real images from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facelens.detection.blazeface import VARIANTS, Detections, detector
from facelens.detection.facemesh import FaceMesh

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EXAMPLES = DATA / "face_recognition" / "examples"


def rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, f"missing test image {path}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def obama() -> tuple[np.ndarray, Detections]:
    image = rgb(EXAMPLES / "obama-1080p.jpg")
    return image, detector().detect(image)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_two_people_gives_two_faces(variant: str) -> None:
    assert len(detector(variant).detect(rgb(EXAMPLES / "two_people.jpg"))) == 2


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_blank_image_gives_no_face(variant: str) -> None:
    assert len(detector(variant).detect(np.full((480, 640, 3), 128, np.uint8))) == 0


def test_obama_one_face_with_eyes_in_box(obama: tuple[np.ndarray, Detections]) -> None:
    _, dets = obama
    assert len(dets) == 1
    (x1, y1, x2, y2), eyes = dets.boxes[0], dets.keypoints[0, :2]
    assert np.all((eyes[:, 0] > x1) & (eyes[:, 0] < x2) & (eyes[:, 1] > y1) & (eyes[:, 1] < y2))
    assert eyes[0, 0] < eyes[1, 0]  # subject's right eye is on the image's left


def test_obama_mesh_inside_box(obama: tuple[np.ndarray, Detections]) -> None:
    image, dets = obama
    mesh = FaceMesh().predict(image, dets.boxes, dets.keypoints[:, 0], dets.keypoints[:, 1])
    assert mesh.landmarks.shape == (1, 468, 3) and mesh.scores[0] > 0.9
    box = dets.boxes[0]
    centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2 * 1.15
    xy = mesh.landmarks[0, :, :2]
    assert np.all(np.abs(xy - centre) <= half)


def test_rotate_set_face_found() -> None:
    assert len(detector().detect(rgb(DATA / "inspireface/test_res/rotate/rot_0.jpg"))) >= 1


def test_tiling_finds_group_faces() -> None:
    # six people round a table: a single 128 px pass finds none of them, the tiles all six
    image = rgb(DATA / "inspireface/insightface_samples/t1.jpg")
    assert len(detector().detect(image, tiles=2)) == 6
