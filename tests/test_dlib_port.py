"""Parity of the ported dlib face-recognition ResNet (ONNX and PyTorch) with dlib itself.

Tolerance: 1e-4 max abs difference per descriptor element. Measured on the three faces below:
torch vs dlib and ONNX Runtime vs dlib differ by <= 4e-7 (float32 summation order only; the
descriptor elements are up to ~0.4 in size, norm ~1.4), so 1e-4 leaves ~250x headroom while
still failing on any semantic error (a wrong pad or skip shifts elements by >1e-2).
"""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import onnxruntime as ort
import pytest
import torch

from facelens.eval.dlib_reference import models_dir
from facelens.models.dlib_resnet import load_dlib_resnet
from facelens.models.onnx_model import weight_path

IMAGES = (
    Path(__file__).resolve().parent.parent.parent / "shared/data/face_recognition/tests/test_images"
)
NAMES = ("obama.jpg", "obama2.jpg", "biden.jpg")
TOL = 1e-4


@pytest.fixture(scope="module")
def chips_and_reference() -> tuple[np.ndarray, np.ndarray]:
    models = models_dir()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    face_rec = dlib.face_recognition_model_v1(
        str(models / "dlib_face_recognition_resnet_model_v1.dat")
    )
    chips, reference = [], []
    for name in NAMES:
        image = dlib.load_rgb_image(str(IMAGES / name))
        faces = detector(image, 1)
        assert len(faces) == 1, name
        chip = dlib.get_face_chip(image, predictor(image, faces[0]), size=150, padding=0.25)
        chips.append(chip)
        reference.append(
            np.asarray(face_rec.compute_face_descriptor(chip))
        )  # aligned-chip overload
    return np.stack(chips), np.stack(reference).astype(np.float32)


def _nchw(chips: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)


def test_onnx_and_torch_match_dlib(chips_and_reference: tuple[np.ndarray, np.ndarray]) -> None:
    chips, reference = chips_and_reference
    batch = _nchw(chips)
    path = weight_path("dlib_resnet_v1.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(["embedding"], {"image": batch})[0]
    with torch.no_grad():
        torch_out = load_dlib_resnet(path)(torch.from_numpy(batch)).numpy()

    assert onnx_out.shape == reference.shape == (3, 128)
    assert np.abs(onnx_out - reference).max() <= TOL
    assert np.abs(torch_out - reference).max() <= TOL
    assert np.abs(torch_out - onnx_out).max() <= TOL
    # batch size must not matter (dynamic batch axis): one chip alone gives the same result
    single = session.run(["embedding"], {"image": batch[:1]})[0]
    assert np.abs(single - onnx_out[:1]).max() <= TOL
    # sanity: same person closer than different people (dlib's threshold is 0.6)
    dist = np.linalg.norm(onnx_out[:, None] - onnx_out[None], axis=-1)
    assert dist[0, 1] < 0.6 < min(dist[0, 2], dist[1, 2])
